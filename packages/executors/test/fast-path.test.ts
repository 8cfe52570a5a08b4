// The pool executors answer a handler that returns synchronously without any async hop in the
// worker, and process children report starts only for handlers that go asynchronous. These tests
// pin what must not change on those paths.
import { describe, expect, it } from "vitest";
import { TimeoutError, isPyrexisError } from "@pyrexis/models";
import { poolExecutors, rejectionOf, runTask } from "./helpers.js";

const make = poolExecutors({ maxWorkers: 1, abortGraceMs: 100 });

describe.each(["thread", "process"] as const)("%s executor: synchronous handlers", (mode) => {
  it("a synchronous throw keeps name, message, stack and code", async () => {
    const error = await rejectionOf(runTask(make(mode), "syncThrowCoded"));
    expect(error.name).toBe("QuotaError");
    expect(error.message).toBe("over quota");
    expect(error.code).toBe("429");
    expect(error.stack).toContain("handlers.mjs");
  });

  it("a thrown non-Error still fails the run with its text", async () => {
    const error = await rejectionOf(runTask(make(mode), "throwString"));
    expect(error.message).toBe("plain string");
  });

  it.each(["nan", "bigint", "nonJson"])("a synchronous non-JSON output (%s) fails with ValidationError", async (handler) => {
    const error = await rejectionOf(runTask(make(mode), handler));
    expect(isPyrexisError(error, "VALIDATION")).toBe(true);
    expect(error.message).toContain(`output of handler "${handler}"`);
  });

  it("progress reported before a synchronous return arrives in order, all before the result", async () => {
    const executor = make(mode, { concurrentTasksPerWorker: 4 });
    const progress = Array.from({ length: 8 }, () => [] as unknown[]);
    const outputs = await Promise.all(progress.map((p, i) => runTask(executor, "syncProgress", { n: 50 + i }, { progress: p })));
    outputs.forEach((output, i) => {
      expect(output).toBe(50 + i);
      expect(progress[i]).toEqual(Array.from({ length: 50 + i }, (_, j) => ({ i: j })));
    });
  });
});

describe.each(["thread", "process"] as const)("%s executor: compact answers", (mode) => {
  // A primitive output with no progress comes back from the worker as itself, everything else
  // in an envelope object; these pin that the two are never confused.
  it.each([null, 0, -1.5, 42, "", "text", true, false])("a primitive output (%j) keeps its value and type", async (value) => {
    await expect(runTask(make(mode), "echo", value)).resolves.toStrictEqual(value);
  });

  it.each([
    ["an error answer", { t: "err", e: { name: "Error", message: "not an error" }, n: 0, id: 1 }],
    ["a skip answer", { t: "skip", id: 1 }],
    ["a load failure", { t: "load", e: { name: "Error", message: "not a load failure" }, id: 1 }],
    ["[null]", [null]],
    ["[]", []],
  ])("an output shaped like %s is returned as the output", async (_name, value) => {
    await expect(runTask(make(mode), "echo", value)).resolves.toStrictEqual(value);
  });

  it("a worker still retires after recycleAfterTasks when its last task had a primitive output", async () => {
    const executor = make(mode, { recycleAfterTasks: 2 });
    const ids: unknown[] = [];
    for (let i = 0; i < 6; i++) ids.push(await runTask(executor, "workerNumber"));
    expect(typeof ids[0]).toBe("number");
    expect(ids[0]).toBe(ids[1]);
    expect(ids[2]).toBe(ids[3]);
    expect(ids[4]).toBe(ids[5]);
    expect(new Set(ids).size).toBe(3);
  });
});

describe.each(["thread", "process"] as const)("%s executor: tasks waiting behind a blocked worker", (mode) => {
  it("when the blocking handler is killed, a task that never started runs on the new worker", async () => {
    const executor = make(mode, { concurrentTasksPerWorker: 2 });
    const controller = new AbortController();
    const progress: unknown[] = [];
    const blocked = rejectionOf(runTask(executor, "spin", { ms: 60_000 }, { signal: controller.signal, progress, jobId: "blocker" }));
    await expect.poll(() => progress.length).toBe(1);
    // Handed to the same (blocked) worker, so it cannot start there.
    const waiting = runTask(executor, "echo", "ran elsewhere", { jobId: "waiting" });
    const reason = new TimeoutError("blocker", 10);
    controller.abort(reason);
    expect(await blocked).toBe(reason);
    await expect(waiting).resolves.toBe("ran elsewhere");
  });

  it("a handler blocking the worker fails with it when another job's ignored abort kills that worker", async () => {
    const executor = make(mode, { concurrentTasksPerWorker: 2 });
    const controller = new AbortController();
    const hangProgress: unknown[] = [];
    const hung = rejectionOf(runTask(executor, "hang", null, { signal: controller.signal, progress: hangProgress, jobId: "hung" }));
    await expect.poll(() => hangProgress.length).toBe(1);
    const spinProgress: unknown[] = [];
    const spinning = runTask(executor, "spin", { ms: 60_000 }, { progress: spinProgress, jobId: "spinner" });
    await expect.poll(() => spinProgress.length).toBe(1);
    controller.abort(new TimeoutError("hung", 10));
    await hung;
    // It had started: it must fail with the worker, not be run again.
    const error = await rejectionOf(spinning);
    expect(isPyrexisError(error, "WORKER_CRASHED")).toBe(true);
    expect(error.message).toContain("spinner");
    expect(spinProgress).toEqual(["spinning"]);
  });

  it("aborting a task stuck behind a busy handler does not kill the worker running that handler", async () => {
    const executor = make(mode, { concurrentTasksPerWorker: 2 });
    const progress: unknown[] = [];
    // Busy well past the grace period, and never aborted: it must finish normally.
    const busy = runTask(executor, "spin", { ms: 1_500 }, { progress, jobId: "busy" });
    await expect.poll(() => progress.length).toBe(1);
    const controller = new AbortController();
    const stuck = rejectionOf(runTask(executor, "echo", "never runs", { signal: controller.signal, jobId: "stuck" }));
    const reason = new TimeoutError("stuck", 10);
    controller.abort(reason);
    expect(await stuck).toBe(reason);
    await expect(busy).resolves.toBe("spun");
  });
});
