import { afterEach, describe, expect, it } from "vitest";
import { CancelledError, TimeoutError } from "@pyrexis/models";
import { AsyncExecutor, ProcessExecutor, RunControl, ThreadExecutor, type Executor, type Logger } from "../dist/index.js";
import { HANDLERS, rejectionOf } from "./helpers.js";

type Mode = "async" | "thread" | "process";
const created: Executor[] = [];
afterEach(async () => {
  await Promise.all(created.splice(0).map((e) => e.terminate?.() ?? e.close()));
});

function make(mode: Mode): Executor {
  const executor =
    mode === "async"
      ? new AsyncExecutor({ handlers: HANDLERS })
      : new (mode === "thread" ? ThreadExecutor : ProcessExecutor)({ handlersModule: HANDLERS, maxWorkers: 1, abortGraceMs: 100 });
  created.push(executor);
  return executor;
}

/** A RunControl that records progress and aborts with `abortOnProgress` on the first value. */
class TestRun extends RunControl {
  readonly progress: unknown[] = [];
  constructor(private readonly abortOnProgress?: unknown) {
    super();
  }
  onProgress(value: unknown): void {
    this.progress.push(value);
    if (this.abortOnProgress !== undefined) this.abort(this.abortOnProgress);
  }
}

let seq = 0;
const task = (handler: string, payload: unknown = null) => ({ jobId: `rc-${++seq}`, handler, payload, attempt: 1 });

describe("RunControl", () => {
  it("creates its signal lazily, already aborted when the run was aborted first", () => {
    const run = new TestRun();
    const reason = new CancelledError("x");
    run.abort(reason);
    run.abort(new Error("second abort is ignored"));
    expect(run.aborted).toBe(true);
    expect(run.reason).toBe(reason);
    expect(run.signal.aborted).toBe(true);
    expect(run.signal.reason).toBe(reason);
  });

  it("calls every listener once, in order, and not after unlisten; a read signal aborts too", () => {
    const run = new TestRun();
    const calls: string[] = [];
    const a = (): number => calls.push("a");
    const b = (): number => calls.push("b");
    const c = (): number => calls.push("c");
    run.listen(a);
    run.listen(b);
    run.listen(c);
    run.unlisten(b);
    const signal = run.signal;
    run.abort("why");
    run.abort("again");
    expect(calls).toEqual(["a", "c"]);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBe("why");
  });

  it("calls listener objects' handleEvent with the reason, in order with functions, and not after unlisten", () => {
    const run = new TestRun();
    const calls: unknown[] = [];
    const object = { handleEvent: (reason: unknown): number => calls.push(["object", reason]) };
    const removed = { handleEvent: (): number => calls.push("removed") };
    const fn = (reason: unknown): number => calls.push(["fn", reason]);
    run.listen(object);
    run.listen(removed);
    run.listen(fn);
    run.unlisten(removed);
    run.abort("why");
    run.abort("again");
    expect(calls).toEqual([
      ["object", "why"],
      ["fn", "why"],
    ]);

    const single = new TestRun();
    const alone = { handleEvent: (): number => calls.push("alone") };
    single.listen(alone);
    single.unlisten(alone);
    single.abort("x");
    expect(calls).not.toContain("alone");
  });

  it("a single listener can be removed", () => {
    const run = new TestRun();
    let called = false;
    const listener = (): void => void (called = true);
    run.listen(listener);
    run.unlisten(listener);
    run.abort("x");
    expect(called).toBe(false);
  });
});

describe.each(["async", "thread", "process"] as const)("%s executor with a RunControl", (mode) => {
  it("runs to the output and delivers progress in order", async () => {
    const run = new TestRun();
    await expect(make(mode).run(task("progress", { n: 25 }), run)).resolves.toBe(25);
    expect(run.progress).toEqual(Array.from({ length: 25 }, (_, i) => ({ i })));
  });

  it("an abort while the handler runs rejects with the reason, whether the handler obeys or ignores it", async () => {
    const executor = make(mode);
    const obeyed = new TimeoutError("rc-obey", 50);
    expect(await rejectionOf(executor.run(task("waitAbort"), new TestRun(obeyed)))).toBe(obeyed);
    const ignored = new CancelledError("rc-ignore");
    expect(await rejectionOf(executor.run(task("hang"), new TestRun(ignored)))).toBe(ignored);
    await expect(executor.run(task("echo", "alive"), new TestRun())).resolves.toBe("alive");
  });

  it("an already aborted run rejects without running", async () => {
    const run = new TestRun();
    const reason = new CancelledError("rc-before");
    run.abort(reason);
    await expect(make(mode).run(task("echo", 1), run)).rejects.toBe(reason);
  });
});

/** A RunControl that records how `start` settled it, and whether that happened inside `start`. */
class StartedRun extends RunControl {
  outcome: { ok: boolean; value: unknown } | undefined;
  insideStart = false;
  settledInside = false;
  readonly settled: Promise<void>;
  #done!: () => void;
  constructor() {
    super();
    this.settled = new Promise((resolve) => (this.#done = resolve));
  }
  onProgress(value: unknown): void {
    void value;
  }
  override settle(ok: boolean, value: unknown): void {
    if (this.outcome) throw new Error("settled twice");
    this.settledInside = this.insideStart;
    this.outcome = { ok, value };
    this.#done();
  }
}

function startOn(
  executor: Pick<Required<Executor>, "start">,
  handler: string,
  payload: unknown = null,
  run = new StartedRun(),
): StartedRun {
  run.insideStart = true;
  executor.start(task(handler, payload), run);
  run.insideStart = false;
  return run;
}

describe("AsyncExecutor.start (RunControl outcome, no promise)", () => {
  it("settles once with the output, never inside start, even for a handler that returns at once", async () => {
    const executor = new AsyncExecutor({ handlers: { now: (p: unknown) => p, later: async (p: unknown) => p } });
    created.push(executor);
    for (const handler of ["now", "later"]) {
      const run = startOn(executor, handler, { v: handler });
      await run.settled;
      expect(run.outcome).toEqual({ ok: true, value: { v: handler } });
      expect(run.settledInside).toBe(false);
    }
  });

  it("settles with the handler's error, a non-JSON output's ValidationError, or an unknown handler's error", async () => {
    const boom = new TypeError("boom");
    const executor = new AsyncExecutor({
      handlers: {
        throws: () => {
          throw boom;
        },
        bad: () => ({ n: Number.NaN }),
      },
    });
    created.push(executor);
    const thrown = startOn(executor, "throws");
    const bad = startOn(executor, "bad");
    const unknown = startOn(executor, "nope");
    await Promise.all([thrown.settled, bad.settled, unknown.settled]);
    expect(thrown.outcome).toEqual({ ok: false, value: boom });
    expect(bad.outcome?.ok).toBe(false);
    expect((bad.outcome?.value as Error).name).toBe("ValidationError");
    expect((unknown.outcome?.value as Error & { code?: string }).code).toBe("HANDLER_NOT_FOUND");
  });

  it("an abort settles with the reason once; an aborted or closed start settles without running", async () => {
    let ran = 0;
    const executor = new AsyncExecutor({ handlers: { hang: () => new Promise(() => {}), count: () => ++ran } });
    created.push(executor);
    const hung = startOn(executor, "hang");
    const reason = new CancelledError("rc-start");
    hung.abort(reason);
    await hung.settled;
    expect(hung.outcome).toEqual({ ok: false, value: reason });

    const early = new StartedRun();
    early.abort(reason);
    executor.start(task("count"), early);
    await early.settled;
    expect(early.outcome).toEqual({ ok: false, value: reason });

    await executor.close();
    const closed = startOn(executor, "count");
    await closed.settled;
    expect((closed.outcome?.value as Error & { code?: string }).code).toBe("EXECUTOR_CLOSED");
    expect(ran).toBe(0);
  });

  it("terminate settles in-flight starts with InterruptedError; close waits for them", async () => {
    const executor = new AsyncExecutor({
      handlers: { hang: () => new Promise(() => {}), slow: () => new Promise((r) => setTimeout(() => r("done"), 30)) },
    });
    const slow = startOn(executor, "slow");
    await executor.close();
    expect(slow.outcome).toEqual({ ok: true, value: "done" });

    const other = new AsyncExecutor({ handlers: { hang: () => new Promise(() => {}) } });
    const hung = startOn(other, "hang");
    await other.terminate();
    await hung.settled;
    expect((hung.outcome?.value as Error & { code?: string }).code).toBe("INTERRUPTED");
  });

  it("a settle that throws is logged and does not stop the other outcomes", async () => {
    const errors: unknown[] = [];
    const logger = { debug() {}, info() {}, warn() {}, error: (obj: unknown) => void errors.push(obj) };
    const executor = new AsyncExecutor({ handlers: { echo: (p: unknown) => p }, logger });
    created.push(executor);
    class Throwing extends StartedRun {
      override settle(): void {
        throw new Error("listener bug");
      }
    }
    executor.start(task("echo", 1), new Throwing());
    const fine = startOn(executor, "echo", 2);
    await fine.settled;
    expect(fine.outcome).toEqual({ ok: true, value: 2 });
    expect(errors).toHaveLength(1);
  });
});

/** Aborts `run` as a caller would, recording whether its outcome arrived inside `abort`. */
function abortFromOutside(run: StartedRun, reason: unknown): void {
  run.insideStart = true;
  run.abort(reason);
  run.insideStart = false;
}

describe.each(["thread", "process"] as const)("%s executor start (RunControl outcome, no promise)", (mode) => {
  const pool = (options: { logger?: Logger } = {}): ThreadExecutor | ProcessExecutor => {
    const all = { handlersModule: HANDLERS, maxWorkers: 1, abortGraceMs: 100, ...options };
    const executor = mode === "thread" ? new ThreadExecutor(all) : new ProcessExecutor(all);
    created.push(executor);
    return executor;
  };

  it("settles once with the output and its progress first, never inside start, for sync and async handlers", async () => {
    const executor = pool();
    for (const [handler, payload, output] of [
      ["echo", { v: 1 }, { v: 1 }],
      ["echo", "bare", "bare"],
      ["sleep", { ms: 5 }, 5],
    ] as const) {
      const run = startOn(executor, handler, payload);
      await run.settled;
      expect(run.outcome).toEqual({ ok: true, value: output });
      expect(run.settledInside).toBe(false);
    }
    const progress = new (class extends StartedRun {
      readonly seen: unknown[] = [];
      override onProgress(value: unknown): void {
        this.seen.push(value);
      }
    })();
    await startOn(executor, "progress", { n: 20 }, progress).settled;
    expect(progress.outcome).toEqual({ ok: true, value: 20 });
    expect(progress.seen).toEqual(Array.from({ length: 20 }, (_, i) => ({ i })));
  });

  it("settles with the handler's error, a non-JSON output's ValidationError, or an unknown handler's error", async () => {
    const executor = pool();
    const thrown = startOn(executor, "fail");
    const bad = startOn(executor, "nonJson");
    const unknown = startOn(executor, "nope");
    await Promise.all([thrown.settled, bad.settled, unknown.settled]);
    expect(thrown.outcome?.ok).toBe(false);
    expect(thrown.outcome?.value).toMatchObject({ name: "RangeError", message: "boom", code: "E_BOOM" });
    expect((bad.outcome?.value as Error).name).toBe("ValidationError");
    expect((unknown.outcome?.value as Error & { code?: string }).code).toBe("HANDLER_NOT_FOUND");
  });

  it("a worker that dies settles the attempt with WorkerCrashedError naming the job", async () => {
    const run = startOn(pool(), "exit", { code: 7 });
    await run.settled;
    expect(run.outcome?.ok).toBe(false);
    expect((run.outcome?.value as Error & { code?: string }).code).toBe("WORKER_CRASHED");
    expect((run.outcome?.value as Error).message).toContain(`rc-${seq}`);
  });

  it("an abort settles with the reason once, after abort returned; an ignored one still frees the worker", async () => {
    const executor = pool();
    for (const handler of ["waitAbort", "hang"]) {
      const run = startOn(executor, handler);
      await new Promise((r) => setTimeout(r, 50));
      const reason = new CancelledError(`rc-${handler}`);
      abortFromOutside(run, reason);
      expect(run.outcome).toBeUndefined();
      await run.settled;
      expect(run.outcome).toEqual({ ok: false, value: reason });
      expect(run.settledInside).toBe(false);
    }
    const after = startOn(executor, "echo", "alive");
    await after.settled;
    expect(after.outcome).toEqual({ ok: true, value: "alive" });
  });

  it("an aborted or closed start settles without running, after start returned", async () => {
    const executor = pool();
    const reason = new CancelledError("rc-before");
    const early = new StartedRun();
    early.abort(reason);
    startOn(executor, "exit", null, early);
    expect(early.outcome).toBeUndefined();
    await early.settled;
    expect(early.outcome).toEqual({ ok: false, value: reason });

    await executor.close();
    const closed = startOn(executor, "exit");
    expect(closed.outcome).toBeUndefined();
    await closed.settled;
    expect((closed.outcome?.value as Error & { code?: string }).code).toBe("EXECUTOR_CLOSED");
  });

  it("terminate settles in-flight starts with InterruptedError; close waits for them", async () => {
    const executor = pool();
    const slow = startOn(executor, "sleep", { ms: 50 });
    await executor.close();
    expect(slow.outcome).toEqual({ ok: true, value: 50 });

    const other = pool();
    const hung = startOn(other, "hang");
    await new Promise((r) => setTimeout(r, 50));
    const terminated = other.terminate();
    expect(hung.outcome).toBeUndefined(); // told after terminate() returned, never inside it
    await terminated;
    await hung.settled;
    expect((hung.outcome?.value as Error & { code?: string }).code).toBe("INTERRUPTED");
  });

  it("a payload that cannot cross to a worker settles with ValidationError naming the job; nothing is sent", async () => {
    const executor = pool();
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const payload of [10n, () => 1, { deep: [Symbol("s")] }, cyclic]) {
      const run = startOn(executor, "echo", payload);
      await run.settled;
      expect(run.settledInside).toBe(false);
      const error = run.outcome?.value as Error & { code?: string };
      expect(run.outcome?.ok).toBe(false);
      expect(error.name).toBe("ValidationError");
      expect(error.message).toMatch(/^payload of job rc-\d+ is not a JSON value/);
    }
    // The pool was never handed those tasks and still runs work.
    const fine = startOn(executor, "echo", { ok: 1 });
    await fine.settled;
    expect(fine.outcome).toEqual({ ok: true, value: { ok: 1 } });
  });

  it("an undefined payload reaches the handler as undefined (a child gets it marked, not as null)", async () => {
    const executor = pool();
    const run = new StartedRun();
    executor.start({ jobId: "rc-undefined", handler: "typeOfPayload", payload: undefined, attempt: 1 }, run);
    await run.settled;
    expect(run.outcome).toEqual({ ok: true, value: "undefined" });
    const nullRun = startOn(executor, "typeOfPayload", null);
    await nullRun.settled;
    expect(nullRun.outcome).toEqual({ ok: true, value: "null" });
  });

  it("a settle that throws is logged and does not stop the other outcomes", async () => {
    const errors: unknown[] = [];
    const executor = pool({ logger: { debug() {}, info() {}, warn() {}, error: (obj: unknown) => void errors.push(obj) } });
    class Throwing extends StartedRun {
      override settle(): void {
        throw new Error("listener bug");
      }
    }
    startOn(executor, "echo", 1, new Throwing());
    const fine = startOn(executor, "echo", 2);
    await fine.settled;
    expect(fine.outcome).toEqual({ ok: true, value: 2 });
    await expect.poll(() => errors.length).toBe(1);
    await expect(executor.run(task("echo", 3), new TestRun())).resolves.toBe(3);
  });
});

describe("RunControl.abort with a throwing listener", () => {
  it("still runs the other listeners and aborts the signal, then rethrows the first error", () => {
    const run = new TestRun();
    const calls: string[] = [];
    const bug = new Error("listener bug");
    run.listen(() => {
      calls.push("first");
      throw bug;
    });
    run.listen(() => calls.push("second"));
    const signal = run.signal;
    expect(() => run.abort("why")).toThrow(bug);
    expect(calls).toEqual(["first", "second"]);
    expect(signal.aborted).toBe(true);
    expect(run.aborted).toBe(true);
  });
});
