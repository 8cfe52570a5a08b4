import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { createEngine, type JobSpecInput } from "../src/index.js";

const handlers = fileURLToPath(new URL("./fixtures/handlers.mjs", import.meta.url));

describe("every mode end to end (real worker threads and child processes)", () => {
  it("runs async, thread and process jobs with progress, and retries across workers", async () => {
    const engine = await createEngine({
      handlers,
      concurrency: { async: 4, thread: 2, process: 2 },
      thread: { maxWorkers: 2 },
      process: { maxWorkers: 2 },
    });
    const progress = new Map<string, unknown[]>();
    engine.on("job:progress", ({ jobId, value }) => progress.set(jobId, [...(progress.get(jobId) ?? []), value]));
    const loop = engine.runLoop();
    const jobs = await engine.submitJobs(
      (["async", "thread", "process"] as const).flatMap((mode): JobSpecInput[] => [
        { handler: "where", payload: { spin: 1000 }, mode },
        { handler: "flaky", payload: { succeedOn: 2 }, mode, backoff: { baseMs: 1, maxMs: 5 } },
      ]),
    );
    const results = await Promise.all(jobs.map((j) => engine.waitForResult(j.id)));
    for (const r of results) expect(r.status).toBe("completed");
    const [asyncWhere, asyncFlaky, threadWhere, threadFlaky, processWhere, processFlaky] = results.map(
      (r) => r.output as { pid: number; threadId?: number; attempt?: number },
    );
    expect(asyncWhere!.pid).toBe(process.pid);
    expect(asyncWhere!.threadId).toBe(0);
    expect(threadWhere!.pid).toBe(process.pid);
    expect(threadWhere!.threadId).toBeGreaterThan(0);
    expect(processWhere!.pid).not.toBe(process.pid);
    for (const flaky of [asyncFlaky, threadFlaky, processFlaky]) expect(flaky!.attempt).toBe(2);
    for (const j of jobs.filter((j) => j.handler === "where")) {
      expect(progress.get(j.id)).toEqual([{ step: "start" }, { step: "done" }]);
    }
    await engine.shutdown();
    await loop;
  }, 30_000);

  it("fails an attempt whose worker process dies, and runs the retry on a new worker", async () => {
    const engine = await createEngine({ handlers, process: { maxWorkers: 1 } });
    const loop = engine.runLoop();
    const job = await engine.submitJob({ handler: "crash", mode: "process", maxAttempts: 2, backoff: { baseMs: 1, maxMs: 1 } });
    const result = await engine.waitForResult(job.id);
    expect(result).toMatchObject({ status: "failed", attempts: 2, error: { code: "WORKER_CRASHED" } });
    const after = await engine.submitJob({ handler: "where", payload: { spin: 10 }, mode: "process" });
    expect((await engine.waitForResult(after.id)).status).toBe("completed");
    await engine.shutdown();
    await loop;
  }, 30_000);

  it.each(["async", "thread", "process"] as const)(
    "runs a pipeline handler in %s mode with progress events",
    async (mode) => {
      const engine = await createEngine({ handlers, thread: { maxWorkers: 1 }, process: { maxWorkers: 1 } });
      const stages: unknown[] = [];
      engine.on("job:progress", ({ value }) => stages.push(value));
      const docs = [
        { id: "a", text: "the quick brown fox" },
        { id: "b", text: "jumps over" },
        { id: "c", text: "the lazy dog today" },
      ];
      const job = await engine.submitJob({ handler: "embedDocs", payload: docs, mode });
      const result = await engine.runNext();
      expect(result).toMatchObject({ jobId: job.id, status: "completed" });
      expect(result!.output).toEqual([
        { id: "a", tokens: 4 },
        { id: "b", tokens: 2 },
        { id: "c", tokens: 4 },
      ]);
      // Every stage reported, each ending with a final report.
      const finals = stages.filter((s) => (s as { done?: boolean }).done === true) as { stage: string }[];
      expect(finals.length).toBeGreaterThanOrEqual(3);
      await engine.shutdown();
    },
    30_000,
  );

  it.each(["async", "thread", "process"] as const)(
    "does not retry a NonRetryableError wrapped by a pipeline stage in %s mode",
    async (mode) => {
      const engine = await createEngine({ handlers, thread: { maxWorkers: 1 }, process: { maxWorkers: 1 } });
      await engine.submitJob({ handler: "strictPipeline", payload: { text: "" }, mode, maxAttempts: 3, backoff: { baseMs: 1, maxMs: 1 } });
      const result = await engine.runNext();
      expect(result).toMatchObject({ status: "failed", attempts: 1, error: { code: "NON_RETRYABLE" } });
      expect(result!.error!.message).toMatch(/no text/);
      await engine.shutdown();
    },
    30_000,
  );
});
