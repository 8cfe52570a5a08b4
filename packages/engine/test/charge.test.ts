// ctx.charge in every mode, through real worker threads and child processes: the handler's real
// usage replaces the units the job was admitted with. The clock is fake and never advanced, so a
// job that needs credited units can start only if the charge crossed the worker boundary.
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { ManualClock } from "@pyrexis/models";
import { createEngine, type Engine } from "../src/index.js";

const handlers = fileURLToPath(new URL("./fixtures/handlers.mjs", import.meta.url));
const T0 = 1_800_000_000_000;

async function engineOn(clock: ManualClock): Promise<Engine> {
  return createEngine({
    handlers,
    clock,
    limits: { tokens: { rate: { units: 1000, perMs: 60_000 } }, calls: { maxConcurrent: 4 } },
    thread: { maxWorkers: 1 },
    process: { maxWorkers: 1 },
  });
}

describe("ctx.charge (real workers, fake time)", () => {
  it.each(["async", "thread", "process"] as const)(
    "%s: a charge below the reservation credits the rest, so the next job starts without waiting for the window",
    async (mode) => {
      const clock = new ManualClock(T0);
      const engine = await engineOn(clock);
      const errors: unknown[] = [];
      engine.on("engine:error", ({ error }) => errors.push(error));
      const loop = engine.runLoop();
      // The whole minute's budget reserved, 100 really used: 900 come back.
      const first = await engine.submitJob({ handler: "charged", mode, payload: { used: 100 }, limits: [{ key: "tokens", units: 1000 }] });
      expect((await engine.waitForResult(first.id)).output).toMatchObject({ used: 100 });
      const second = await engine.submitJob({ handler: "charged", mode, payload: { used: 900 }, limits: [{ key: "tokens", units: 900 }] });
      expect((await engine.waitForResult(second.id)).status).toBe("completed");
      expect(clock.now()).toBe(T0);
      expect(errors).toEqual([]);
      await engine.shutdown();
      await loop;
    },
    30_000,
  );

  it.each(["thread", "process"] as const)(
    "%s: a charge above the reservation (to a named limit) holds the next job until the window has room",
    async (mode) => {
      const clock = new ManualClock(T0);
      const engine = await engineOn(clock);
      const started: string[] = [];
      engine.on("job:started", ({ job }) => started.push(job.id));
      const loop = engine.runLoop();
      const limits = [
        { key: "calls", units: 1 },
        { key: "tokens", units: 100 },
      ];
      const first = await engine.submitJob({ handler: "charged", mode, payload: { used: 1000, key: "tokens" }, limits });
      await engine.waitForResult(first.id);
      const second = await engine.submitJob({ handler: "charged", mode, payload: { used: 1, key: "tokens" }, limits });
      await new Promise((r) => setTimeout(r, 50)); // real time passes, fake time does not
      expect(started).toEqual([first.id]);
      // A minute in steps, so the lease renewals of the waiting (claimed) job complete on the way.
      for (let s = 0; s < 60; s++) {
        clock.advance(1000);
        await new Promise((r) => setTimeout(r, 2));
        if (s < 59) expect(started).toEqual([first.id]);
      }
      expect((await engine.waitForResult(second.id)).status).toBe("completed");
      await engine.shutdown();
      await loop;
    },
    30_000,
  );

  it("a charge the engine cannot apply is an engine:error; a bad units value fails the handler with a ValidationError", async () => {
    const clock = new ManualClock(T0);
    const engine = await engineOn(clock);
    const errors: { error: unknown; context: string }[] = [];
    engine.on("engine:error", (e) => errors.push(e));
    const loop = engine.runLoop();
    const unknownKey = await engine.submitJob({
      handler: "charged",
      mode: "thread",
      payload: { used: 5, key: "calls" }, // a concurrency-only limit has no units to charge
      limits: [{ key: "calls" }],
    });
    expect((await engine.waitForResult(unknownKey.id)).status).toBe("completed");
    const noLimits = await engine.submitJob({ handler: "charged", payload: { used: 5 } });
    expect((await engine.waitForResult(noLimits.id)).status).toBe("completed");
    expect(errors.map((e) => e.context)).toEqual([`ctx.charge of job ${unknownKey.id}`, `ctx.charge of job ${noLimits.id}`]);
    expect(errors.map((e) => (e.error as { code?: string }).code)).toEqual(["VALIDATION", "VALIDATION"]);
    const bad = await engine.submitJob({
      handler: "charged",
      mode: "process",
      maxAttempts: 1,
      payload: { used: -1 },
      limits: [{ key: "tokens" }],
    });
    expect(await engine.waitForResult(bad.id)).toMatchObject({ status: "failed", error: { name: "ValidationError", code: "VALIDATION" } });
    await engine.shutdown();
    await loop;
  }, 30_000);
});
