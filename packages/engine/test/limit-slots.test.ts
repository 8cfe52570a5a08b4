// A concurrency slot is never leaked when a process executor's child crashes: the attempt fails
// with WORKER_CRASHED and the next job of the same key starts (with maxConcurrent 1, a leaked slot
// would hold it forever).
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { createEngine } from "../src/index.js";

const handlers = fileURLToPath(new URL("./fixtures/handlers.mjs", import.meta.url));

describe("maxConcurrent with crashing children", () => {
  it("gives the slot back when the child running the job dies, on every attempt", async () => {
    const engine = await createEngine({ handlers, limits: { gpu: { maxConcurrent: 1 } }, process: { maxWorkers: 2 } });
    const loop = engine.runLoop();
    const limits = [{ key: "gpu" }];
    const crash = await engine.submitJob({ handler: "crash", mode: "process", maxAttempts: 2, backoff: { baseMs: 1, maxMs: 1 }, limits });
    expect(await engine.waitForResult(crash.id)).toMatchObject({ status: "failed", attempts: 2, error: { code: "WORKER_CRASHED" } });
    const after = await engine.submitJobs([
      { handler: "where", payload: { spin: 10 }, mode: "process", limits },
      { handler: "where", payload: { spin: 10 }, mode: "process", limits },
    ]);
    for (const job of after) expect((await engine.waitForResult(job.id)).status).toBe("completed");
    await engine.shutdown();
    await loop;
  }, 30_000);
});
