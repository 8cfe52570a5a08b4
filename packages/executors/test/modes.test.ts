import { afterEach, describe, expect, it } from "vitest";
import {
  CancelledError,
  createJob,
  ExecutorClosedError,
  isNonRetryable,
  isPyrexisError,
  parseJobSpec,
  recordFailure,
  startAttempt,
  TimeoutError,
} from "@pyrexis/models";
import { AsyncExecutor, ProcessExecutor, ThreadExecutor, type Executor, type Logger } from "../dist/index.js";
import { BROKEN, HANDLERS, NAMED, NOT_HANDLERS, rejectionOf, runTask } from "./helpers.js";

type Mode = "async" | "thread" | "process";
const MODES: Mode[] = ["async", "thread", "process"];

const created: Executor[] = [];
afterEach(async () => {
  await Promise.all(created.splice(0).map((e) => e.terminate?.() ?? e.close()));
});

function make(mode: Mode, module: URL = HANDLERS, logger?: Logger): Executor {
  const extra = logger ? { logger } : {};
  const executor =
    mode === "async"
      ? new AsyncExecutor({ handlers: module, ...extra })
      : new (mode === "thread" ? ThreadExecutor : ProcessExecutor)({ handlersModule: module, maxWorkers: 2, abortGraceMs: 100, ...extra });
  created.push(executor);
  return executor;
}

/** An AbortController that aborts with `reason` as soon as the handler reports progress. */
function abortOnFirstProgress(reason: Error): { signal: AbortSignal; progress: unknown[] } {
  const controller = new AbortController();
  const progress: unknown[] = [];
  progress.push = (...values: unknown[]): number => {
    controller.abort(reason);
    return Array.prototype.push.apply(progress, values);
  };
  return { signal: controller.signal, progress };
}

describe.each(MODES)("%s executor", (mode) => {
  it("returns the handler's JSON output", async () => {
    const executor = make(mode);
    await expect(runTask(executor, "echo", { a: [1, "two", null] })).resolves.toEqual({ a: [1, "two", null] });
  });

  it("turns a handler that returns nothing into a null output", async () => {
    await expect(runTask(make(mode), "returnsNothing")).resolves.toBeNull();
  });

  it("gives a context that can be destructured", async () => {
    const progress: unknown[] = [];
    const output = await runTask(make(mode), "destructured", null, { progress, jobId: "d-1" });
    expect(output).toEqual({ aborted: false });
    expect(progress).toEqual([{ jobId: "d-1", attempt: 1 }]);
  });

  it("rejects with the thrown error, keeping name, message, code and stack", async () => {
    const error = await rejectionOf(runTask(make(mode), "fail"));
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe("RangeError");
    expect(error.message).toBe("boom");
    expect(error.code).toBe("E_BOOM");
    expect(error.stack).toContain("handlers.mjs");
  });

  it("rejects with a rejected promise's error", async () => {
    const error = await rejectionOf(runTask(make(mode), "reject"));
    expect(error.name).toBe("TypeError");
    expect(error.message).toBe("rejected on purpose");
  });

  it("fails a non-JSON output with ValidationError naming the path", async () => {
    const error = await rejectionOf(runTask(make(mode), "nonJson"));
    expect(isPyrexisError(error, "VALIDATION")).toBe(true);
    expect(error.message).toContain("when");
    expect(error.message).toContain("Date");
  });

  if (mode !== "async") {
    it("refuses a payload that cannot cross to a worker with ValidationError naming the job and path; the executor keeps working", async () => {
      const executor = make(mode);
      const error = await rejectionOf(runTask(executor, "echo", { n: 10n }, { jobId: "big" }));
      expect(isPyrexisError(error, "VALIDATION")).toBe(true);
      expect(error.message).toMatch(/^payload of job big is not a JSON value at n/);
      expect(await runTask(executor, "echo", { n: 10 })).toEqual({ n: 10 });
    });
  }

  it("fails non-JSON progress with ValidationError", async () => {
    const error = await rejectionOf(runTask(make(mode), "nonJsonProgress"));
    expect(isPyrexisError(error, "VALIDATION")).toBe(true);
  });

  it("fails an unknown handler with HandlerNotFoundError listing the known ones", async () => {
    const error = await rejectionOf(runTask(make(mode), "nope"));
    expect(isPyrexisError(error, "HANDLER_NOT_FOUND")).toBe(true);
    expect(error.message).toContain("nope");
    expect(error.message).toContain("echo");
  });

  it("fails an unknown handler at once: non-retryable across the boundary, and the message says where and why", async () => {
    const error = await rejectionOf(runTask(make(mode), "nope"));
    expect(isPyrexisError(error, "HANDLER_NOT_FOUND")).toBe(true);
    expect(error.name).toBe("HandlerNotFoundError");
    expect(isNonRetryable(error)).toBe(true);
    const where = { async: /in this async executor/, thread: /in worker thread \d+ /, process: /in child process \d+ / }[mode];
    expect(error.message).toMatch(where);
    expect(error.message).toMatch(/known handlers: echo, .*\); not retried: every attempt would fail the same way$/);
    // What the engine does with the failed attempt: the job fails now, recorded with this code.
    const job = startAttempt(createJob(parseJobSpec({ handler: "nope", mode, maxAttempts: 3 }), 0), 1);
    const outcome = recordFailure(job, error, 2);
    expect(outcome).toMatchObject({ willRetry: false, delayMs: 0 });
    expect(outcome.job).toMatchObject({
      status: "failed",
      attempts: 1,
      lastError: { name: "HandlerNotFoundError", code: "HANDLER_NOT_FOUND" },
    });
  });

  it("delivers progress in order, all of it before the result", async () => {
    const executor = make(mode);
    const progress: unknown[] = [];
    const output = await runTask(executor, "progress", { n: 200 }, { progress });
    expect(output).toBe(200);
    expect(progress).toEqual(Array.from({ length: 200 }, (_, i) => ({ i })));
  });

  it("loads a module whose handlers are a named `handlers` export", async () => {
    await expect(runTask(make(mode, NAMED), "hi", "ada")).resolves.toBe("hi ada");
  });

  it("forwards ctx.logger calls with job bindings", async () => {
    const lines: unknown[][] = [];
    const logger: Logger = {
      debug: (...a: unknown[]) => lines.push(["debug", ...a]),
      info: (...a: unknown[]) => lines.push(["info", ...a]),
      warn: (...a: unknown[]) => lines.push(["warn", ...a]),
      error: (...a: unknown[]) => lines.push(["error", ...a]),
    };
    await runTask(make(mode, HANDLERS, logger), "log", null, { jobId: "log-job" });
    const fromHandler = lines.filter((l) => (l[1] as { jobId?: string }).jobId === "log-job");
    expect(fromHandler).toEqual([
      ["info", { jobId: "log-job", attempt: 1, handler: "log", step: 1 }, "hello from handler"],
      ["warn", { jobId: "log-job", attempt: 1, handler: "log" }, "plain message"],
    ]);
  });

  it("a handler that obeys the timeout rejects with the signal's reason", async () => {
    const reason = new TimeoutError("t-obey", 50);
    const { signal, progress } = abortOnFirstProgress(reason);
    const error = await rejectionOf(runTask(make(mode), "waitAbort", null, { signal, progress, jobId: "t-obey" }));
    expect(error).toBe(reason);
  });

  it("a handler that ignores the timeout still rejects with the reason, and the executor keeps working", async () => {
    const executor = make(mode);
    const reason = new TimeoutError("t-ignore", 50);
    const { signal, progress } = abortOnFirstProgress(reason);
    const error = await rejectionOf(runTask(executor, "hang", null, { signal, progress }));
    expect(error).toBe(reason);
    await expect(runTask(executor, "echo", "still alive")).resolves.toBe("still alive");
  });

  it("cancellation rejects with CancelledError", async () => {
    const reason = new CancelledError("c1");
    const { signal, progress } = abortOnFirstProgress(reason);
    const error = await rejectionOf(runTask(make(mode), "waitAbort", null, { signal, progress }));
    expect(isPyrexisError(error, "CANCELLED")).toBe(true);
  });

  it("an already aborted signal rejects without running", async () => {
    const controller = new AbortController();
    const reason = new CancelledError("c2");
    controller.abort(reason);
    await expect(runTask(make(mode), "echo", 1, { signal: controller.signal })).rejects.toBe(reason);
  });

  it("close() lets in-flight work finish, then refuses new runs; both close and terminate are idempotent", async () => {
    const executor = make(mode);
    const inflight = runTask(executor, "sleep", { ms: 50 });
    const closed = executor.close();
    await expect(runTask(executor, "echo", 1)).rejects.toBeInstanceOf(ExecutorClosedError);
    await expect(inflight).resolves.toBe(50);
    await closed;
    await executor.close();
    await executor.terminate?.();
  });

  it("terminate() rejects in-flight runs with InterruptedError without waiting", async () => {
    const executor = make(mode);
    const progress: unknown[] = [];
    const inflight = rejectionOf(runTask(executor, "hang", null, { progress }));
    await expect.poll(() => progress.length).toBe(1);
    await executor.terminate!();
    const error = await inflight;
    expect(isPyrexisError(error, "INTERRUPTED")).toBe(true);
    await expect(runTask(executor, "echo", 1)).rejects.toBeInstanceOf(ExecutorClosedError);
  });

  it("a handlers module that fails to load fails the run, naming the module and the cause", async () => {
    const executor = make(mode, BROKEN);
    for (let i = 0; i < 2; i++) {
      const error = await rejectionOf(runTask(executor, "echo", 1));
      expect(error.name).toBe("HandlersLoadError");
      expect(isPyrexisError(error, "HANDLERS_LOAD_FAILED")).toBe(true);
      expect(isNonRetryable(error)).toBe(true);
      expect(error.message).toContain("broken.mjs");
      expect(error.message).toContain("kaput while loading");
    }
  });

  it("a module without a handler map is a load error", async () => {
    const error = await rejectionOf(runTask(make(mode, NOT_HANDLERS), "echo", 1));
    expect(error.name).toBe("HandlersLoadError");
    expect(error.message).toContain("not-handlers.mjs");
  });
});
