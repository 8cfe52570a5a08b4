// ctx.charge crosses every boundary the way progress does: in order with progress, before the
// result, and a bad value fails the attempt with a ValidationError in every mode.
import { afterEach, describe, expect, it } from "vitest";
import { AsyncExecutor, ProcessExecutor, RunControl, ThreadExecutor, type Executor } from "../dist/index.js";
import { HANDLERS, rejectionOf } from "./helpers.js";

const created: Executor[] = [];
afterEach(async () => {
  await Promise.all(created.splice(0).map((e) => e.terminate?.() ?? e.close()));
});

function make(mode: "async" | "thread" | "process"): Executor {
  const executor =
    mode === "async"
      ? new AsyncExecutor({ handlers: HANDLERS })
      : new (mode === "thread" ? ThreadExecutor : ProcessExecutor)({ handlersModule: HANDLERS, maxWorkers: 1 });
  created.push(executor);
  return executor;
}

/** A run that records progress and charges in one list, in arrival order. */
class Recorder extends RunControl {
  readonly seen: unknown[] = [];
  onProgress(value: unknown): void {
    this.seen.push(["progress", value]);
  }
  override onCharge(units: number, key: string | undefined): void {
    this.seen.push(["charge", units, key]);
  }
}

describe.each(["async", "thread", "process"] as const)("%s executor: ctx.charge", (mode) => {
  it("delivers charges in order with progress, all before the result (run and plain options)", async () => {
    const executor = make(mode);
    const run = new Recorder();
    const task = { jobId: "c-1", handler: "charges", payload: { units: 1234 }, attempt: 1 };
    await expect(executor.run(task, run)).resolves.toBe("done");
    expect(run.seen).toEqual([
      ["progress", 1],
      ["charge", 1234, undefined],
      ["charge", 7, "tokens"],
      ["progress", 2],
    ]);
    const charges: unknown[] = [];
    const plain = { signal: new AbortController().signal, onProgress: () => {}, onCharge: (u: number) => charges.push(u) };
    await executor.run({ ...task, jobId: "c-2" }, plain);
    expect(charges).toEqual([1234, 7]);
  });

  it.each([-1, 1.5, Number.NaN, "12"])("fails the attempt with a ValidationError for units %j", async (units) => {
    const error = await rejectionOf(make(mode).run({ jobId: "c-3", handler: "badCharge", payload: { units }, attempt: 1 }, new Recorder()));
    expect(error).toMatchObject({ name: "ValidationError", code: "VALIDATION" });
  });
});
