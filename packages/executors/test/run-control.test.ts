import { afterEach, describe, expect, it } from "vitest";
import { CancelledError, TimeoutError } from "@pyrexis/models";
import { AsyncExecutor, ProcessExecutor, RunControl, ThreadExecutor, type Executor } from "../dist/index.js";
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
