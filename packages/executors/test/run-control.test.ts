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
  onProgress(): void {}
  override settle(ok: boolean, value: unknown): void {
    if (this.outcome) throw new Error("settled twice");
    this.settledInside = this.insideStart;
    this.outcome = { ok, value };
    this.#done();
  }
}

function startOn(executor: AsyncExecutor, handler: string, payload: unknown = null): StartedRun {
  const run = new StartedRun();
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
    const executor = new AsyncExecutor({ handlers: { throws: () => { throw boom; }, bad: () => ({ n: Number.NaN }) } });
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
    const executor = new AsyncExecutor({ handlers: { hang: () => new Promise(() => {}), slow: () => new Promise((r) => setTimeout(() => r("done"), 30)) } });
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
