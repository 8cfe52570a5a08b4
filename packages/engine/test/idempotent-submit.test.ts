import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isPyrexisError, JobConflictError, type Job } from "@pyrexis/models";
import { MemoryJobStore } from "@pyrexis/storage";
import { SqliteJobStore } from "@pyrexis/storage-sqlite";
import { engineWith, tempDir } from "./helpers.js";

const echo = { echo: (p: unknown) => p };

describe('submitJob with ifExists: "return"', () => {
  it("returns the stored job for a known id (pending or finished), writes nothing and runs nothing again", async () => {
    const store = new MemoryJobStore();
    let runs = 0;
    const engine = engineWith({ echo: (p) => (runs++, p) }, { store });
    const first = await engine.submitJob({ id: "order-1", handler: "echo", payload: { n: 1 } });
    const again = await engine.submitJob({ id: "order-1", handler: "echo", payload: { n: 1 } }, { ifExists: "return" });
    expect(again).toMatchObject({ id: "order-1", status: "pending", version: first.version });
    await engine.runNext();
    const afterRun = await engine.submitJob({ id: "order-1", handler: "echo", payload: { n: 1 } }, { ifExists: "return" });
    expect(afterRun.status).toBe("completed");
    expect(await engine.runNext()).toBeUndefined();
    expect(runs).toBe(1);
    expect((await store.listJobs()).jobs).toHaveLength(1);
    await engine.shutdown();
  });

  it("writes the new specs of a batch and returns the stored ones in their places; a repeated id is the first spec's job", async () => {
    const store = new MemoryJobStore();
    const engine = engineWith(echo, { store });
    await engine.submitJob({ id: "a", handler: "echo", payload: "A" });
    const jobs = await engine.submitJobs(
      [
        { id: "a", handler: "echo", payload: "A" },
        { id: "b", handler: "echo", payload: "B" },
        { handler: "echo", payload: "generated" },
        { id: "b", handler: "echo", payload: "B" },
      ],
      { ifExists: "return" },
    );
    expect(jobs.map((j) => j.payload)).toEqual(["A", "B", "generated", "B"]);
    expect(jobs[3]).toBe(jobs[1]);
    expect((await store.countByStatus()).pending).toBe(3);
    await engine.shutdown();
  });

  it("refuses an existing id whose handler, mode or payload differ with JobConflictError; nothing of the batch is written", async () => {
    const store = new MemoryJobStore();
    const engine = engineWith({ ...echo, other: (p) => p }, { store });
    await engine.submitJob({ id: "a", handler: "echo", payload: { x: 1, y: [1, 2] } });
    // Key order does not matter: the same JSON value is the same work.
    await expect(
      engine.submitJob({ id: "a", handler: "echo", payload: { y: [1, 2], x: 1 } }, { ifExists: "return" }),
    ).resolves.toMatchObject({
      id: "a",
    });
    const err = await engine
      .submitJobs(
        [
          { id: "fresh", handler: "echo" },
          { id: "a", handler: "other", payload: { x: 2, y: [1, 2] } },
        ],
        { ifExists: "return" },
      )
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(JobConflictError);
    expect(err).toMatchObject({ code: "JOB_CONFLICT", jobId: "a", fields: ["handler", "payload"] });
    expect(await store.getJob("fresh")).toBeUndefined();
    // Two specs of one batch naming one id for different work.
    const inBatch = await engine
      .submitJobs(
        [
          { id: "dup", handler: "echo", payload: 1 },
          { id: "dup", handler: "echo", payload: 2 },
        ],
        { ifExists: "return" },
      )
      .catch((e: unknown) => e);
    expect(isPyrexisError(inBatch, "JOB_CONFLICT")).toBe(true);
    expect(await store.getJob("dup")).toBeUndefined();
    await engine.shutdown();
  });

  it('keeps the default ("error"): a known id rejects with DuplicateJobError', async () => {
    const engine = engineWith(echo);
    await engine.submitJob({ id: "a", handler: "echo" });
    for (const options of [undefined, { ifExists: "error" as const }]) {
      const err = await engine.submitJob({ id: "a", handler: "echo" }, options).catch((e: unknown) => e);
      expect(isPyrexisError(err, "DUPLICATE_JOB")).toBe(true);
    }
    await engine.shutdown();
  });

  it("rejects bad options with ValidationError and writes nothing", async () => {
    const store = new MemoryJobStore();
    const engine = engineWith(echo, { store });
    for (const options of [{ ifExists: "replace" }, { ifExist: "return" }, "return", null]) {
      const err = await engine.submitJob({ id: "x", handler: "echo" }, options as never).catch((e: unknown) => e);
      expect(isPyrexisError(err, "VALIDATION"), JSON.stringify(options)).toBe(true);
    }
    expect(await store.getJob("x")).toBeUndefined();
    await engine.shutdown();
  });

  it("looks again when another producer inserts an id between the look-up and the write", async () => {
    let raced = false;
    const producer: { other?: ReturnType<typeof engineWith> } = {};
    // A store whose first look-up of "r" misses while another producer inserts it right after.
    class RacingStore extends MemoryJobStore {
      override async getJob(id: string): Promise<Job | undefined> {
        const found = await super.getJob(id);
        if (id === "r" && !raced) {
          raced = true;
          await producer.other!.submitJob({ id: "r", handler: "echo", payload: "theirs" });
        }
        return found;
      }
    }
    const store = new RacingStore();
    const inner = store;
    const other = (producer.other = engineWith(echo, { store }));
    const engine = engineWith(echo, { store });
    const job = await engine.submitJob({ id: "r", handler: "echo", payload: "theirs" }, { ifExists: "return" });
    expect(raced).toBe(true);
    expect(job).toMatchObject({ id: "r", payload: "theirs" });
    expect((await inner.listJobs()).jobs).toHaveLength(1);
    await engine.shutdown();
    await other.shutdown();
  });

  it("two engines on one SQLite file submitting the same batch at once: one job per id, both get it", async () => {
    const tmp = tempDir();
    try {
      const path = join(tmp.dir, "jobs.db");
      const engines = [
        engineWith(echo, { store: await SqliteJobStore.open({ path }) }),
        engineWith(echo, { store: await SqliteJobStore.open({ path }) }),
      ];
      const specs = Array.from({ length: 50 }, (_, i) => ({ id: `k-${i}`, handler: "echo", payload: i }));
      const [a, b] = await Promise.all(engines.map((e) => e.submitJobs(specs, { ifExists: "return" })));
      expect(a!.map((j) => j.id)).toEqual(b!.map((j) => j.id));
      const counts = await engines[0]!.countByStatus();
      expect(counts.pending + counts.running + counts.completed).toBe(50);
      for (const e of engines) await e.shutdown();
    } finally {
      tmp.cleanup();
    }
  });
});
