import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isPyrexisError, NonRetryableError, PyrexisError, type Job } from "@pyrexis/models";
import { MemoryJobStore, type JobStore } from "@pyrexis/storage";
import { SqliteJobStore } from "@pyrexis/storage-sqlite";
import type { Engine } from "../src/index.js";
import { engineWith, tempDir } from "./helpers.js";

/** A rate-limit error with a code of its own, as a handler would throw it. */
class RateLimited extends Error {
  readonly code = "E_RATE";
  override readonly name = "RateLimited";
}

/** Handlers: `flaky` fails while `broken` is true (with the payload's chosen error), then echoes. */
function handlers(state: { broken: boolean }) {
  return {
    flaky: (p: unknown) => {
      if (!state.broken) return p;
      const kind = (p as { kind?: string } | null)?.kind;
      if (kind === "rate") throw new RateLimited("429 from the model API");
      if (kind === "type") throw new TypeError("bad input");
      throw new NonRetryableError("broken");
    },
    other: (p: unknown) => p,
  };
}

async function drain(engine: Engine): Promise<void> {
  while ((await engine.runNext()) !== undefined);
}

async function failedJobs(engine: Engine, specs: { handler?: string; payload?: unknown; id?: string }[]): Promise<Job[]> {
  const jobs = await engine.submitJobs(specs.map((s) => ({ handler: "flaky", maxAttempts: 1, ...s }) as never));
  await drain(engine);
  return Promise.all(jobs.map(async (j) => (await engine.getJob(j.id))!));
}

describe("engine.redrive(id)", () => {
  it("gives a failed job a new pending job with its spec; the failed job and its result stay; a second redrive returns the same job", async () => {
    const state = { broken: true };
    const store = new MemoryJobStore();
    const engine = engineWith(handlers(state), { store });
    const [failed] = await failedJobs(engine, [{ id: "embed-7", payload: { doc: 7 } }]);
    expect(failed).toMatchObject({ status: "failed", attempts: 1 });
    const resultBefore = await store.getResult("embed-7");

    state.broken = false;
    const redriven = await engine.redrive("embed-7");
    expect(redriven).toMatchObject({ id: "embed-7.retry-1", status: "pending", handler: "flaky", payload: { doc: 7 }, maxAttempts: 1 });
    expect(await engine.redrive("embed-7")).toMatchObject({ id: "embed-7.retry-1", version: redriven.version });
    await drain(engine);
    expect((await engine.getResult("embed-7.retry-1"))?.output).toEqual({ doc: 7 });
    expect(await store.getJob("embed-7")).toEqual(failed);
    expect(await store.getResult("embed-7")).toEqual(resultBefore);
    expect((await store.listJobs()).jobs).toHaveLength(2);
    await engine.shutdown();
  });

  it("redrives a redrive that failed again as the next of its chain, and a cancelled job", async () => {
    const state = { broken: true };
    const engine = engineWith(handlers(state));
    await failedJobs(engine, [{ id: "a" }]);
    await engine.redrive("a");
    await drain(engine);
    expect((await engine.redrive("a.retry-1")).id).toBe("a.retry-2");
    const pending = await engine.submitJob({ handler: "other", id: "c", delayMs: 60_000 });
    await engine.cancelJob(pending.id);
    expect((await engine.redrive("c")).id).toBe("c.retry-1");
    await engine.shutdown();
  });

  it("refuses what cannot be redriven with typed errors and writes nothing", async () => {
    const state = { broken: false };
    const store = new MemoryJobStore();
    const engine = engineWith(handlers(state), { store });
    await engine.submitJob({ handler: "other", id: "done" });
    await drain(engine);
    await engine.submitJob({ handler: "other", id: "waiting", delayMs: 60_000 });
    const completed = await engine.redrive("done").catch((e: unknown) => e);
    expect(completed).toMatchObject({ code: "NOT_REDRIVABLE", jobId: "done", status: "completed" });
    expect(await engine.redrive("waiting").catch((e: unknown) => e)).toMatchObject({ code: "NOT_REDRIVABLE", status: "pending" });
    expect(isPyrexisError(await engine.redrive("nope").catch((e: unknown) => e), "JOB_NOT_FOUND")).toBe(true);
    for (const bad of ["", { max: 0 }, { max: 10_001 }, { max: 1.5 }, { status: "completed" }, { status: [] }, { colour: "red" }, null]) {
      const err = await engine.redrive(bad as never).catch((e: unknown) => e);
      expect(isPyrexisError(err, "VALIDATION"), JSON.stringify(bad)).toBe(true);
    }
    expect((await store.listJobs()).jobs).toHaveLength(2);
    await engine.shutdown();
  });
});

describe("dead letters", () => {
  it("lists failed jobs by handler and by error code (a code, else the error's name)", async () => {
    const engine = engineWith(handlers({ broken: true }));
    await failedJobs(engine, [
      { id: "r1", payload: { kind: "rate" } },
      { id: "t1", payload: { kind: "type" } },
      { id: "n1", payload: {} },
      { id: "r2", payload: { kind: "rate" } },
    ]);
    await engine.submitJob({ handler: "other", id: "fine" });
    await drain(engine);
    // Jobs submitted together share a creation time; listing order is then by id.
    const ids = async (q: Parameters<Engine["deadLetters"]>[0]): Promise<string[]> => (await engine.deadLetters(q)).jobs.map((j) => j.id);
    expect(await ids({})).toEqual(["n1", "r1", "r2", "t1"]);
    expect(await ids({ errorCode: "E_RATE" })).toEqual(["r1", "r2"]);
    expect(await ids({ errorCode: ["TypeError", "NON_RETRYABLE"] })).toEqual(["n1", "t1"]);
    expect(await ids({ handler: "other" })).toEqual([]);
    expect(await ids({ errorCode: "E_RATE", order: "desc", limit: 1 })).toEqual(["r2"]);
    const bad = await engine.deadLetters({ status: "completed" } as never).catch((e: unknown) => e);
    expect(isPyrexisError(bad, "VALIDATION")).toBe(true);
    await engine.shutdown();
  });
});

describe("engine.redrive(filter)", () => {
  async function onEveryStore(body: (store: JobStore) => Promise<void>): Promise<void> {
    await body(new MemoryJobStore());
    const tmp = tempDir();
    try {
      await body(await SqliteJobStore.open({ path: join(tmp.dir, "jobs.db") }));
    } finally {
      tmp.cleanup();
    }
  }

  it("redrives the matching failed jobs oldest first, at most max new ones per call; calling again goes on where it stopped", () =>
    onEveryStore(async (store) => {
      const state = { broken: true };
      const engine = engineWith(handlers(state), { store });
      await failedJobs(
        engine,
        Array.from({ length: 450 }, (_, i) => ({
          id: `j-${String(i).padStart(3, "0")}`,
          payload: { kind: i % 3 === 0 ? "rate" : "type" },
        })),
      );
      const dry = await engine.redrive({ errorCode: "E_RATE", dryRun: true });
      expect(dry).toMatchObject({ dryRun: true, matched: 150, redriven: 150, alreadyRedriven: 0, truncated: false });
      expect((await store.countByStatus()).pending).toBe(0);

      const first = await engine.redrive({ errorCode: "E_RATE", max: 100 });
      expect(first).toMatchObject({ matched: expect.any(Number), redriven: 100, alreadyRedriven: 0, truncated: true });
      expect(first.ids[0]).toBe("j-000.retry-1");
      const second = await engine.redrive({ errorCode: "E_RATE", max: 100 });
      expect(second).toMatchObject({ redriven: 50, alreadyRedriven: 100, truncated: false });
      expect(new Set([...first.ids, ...second.ids]).size).toBe(150);
      const third = await engine.redrive({ errorCode: "E_RATE" });
      expect(third).toMatchObject({ redriven: 0, alreadyRedriven: 150, matched: 150 });

      state.broken = false;
      await drain(engine);
      const counts = await store.countByStatus();
      expect([counts.completed, counts.failed, counts.pending]).toEqual([150, 450, 0]);
      await engine.shutdown();
    }));

  it("two engines redriving one filter at once on a shared store create each redrive once", async () => {
    const store = new MemoryJobStore();
    const state = { broken: true };
    const a = engineWith(handlers(state), { store });
    const b = engineWith(handlers(state), { store });
    await failedJobs(
      a,
      Array.from({ length: 60 }, (_, i) => ({ id: `k-${i}` })),
    );
    const [ra, rb] = await Promise.all([a.redrive({}), b.redrive({})]);
    expect(ra.redriven + rb.redriven).toBe(60);
    expect(ra.alreadyRedriven + rb.alreadyRedriven).toBe(60);
    expect((await store.countByStatus()).pending).toBe(60);
    await a.shutdown();
    await b.shutdown();
  });

  it("a store failure in the middle leaves whole pages redriven; the next call finishes without duplicates", async () => {
    class FailingOnce extends MemoryJobStore {
      failNextInsert = false;
      override async commit(batch: Parameters<MemoryJobStore["commit"]>[0]): Promise<void> {
        if (this.failNextInsert && (batch.insert?.length ?? 0) > 0) {
          this.failNextInsert = false;
          throw new PyrexisError("VALIDATION", "simulated refusal of the second page");
        }
        return super.commit(batch);
      }
    }
    const store = new FailingOnce();
    const engine = engineWith(handlers({ broken: true }), { store });
    await failedJobs(
      engine,
      Array.from({ length: 300 }, (_, i) => ({ id: `p-${String(i).padStart(3, "0")}` })),
    );
    const firstPage = await engine.redrive({ max: 200 });
    expect(firstPage.redriven).toBe(200);
    store.failNextInsert = true;
    await expect(engine.redrive({})).rejects.toThrow(/simulated/);
    const rest = await engine.redrive({});
    expect(rest).toMatchObject({ redriven: 100, alreadyRedriven: 200 });
    expect((await store.countByStatus()).pending).toBe(300);
    await engine.shutdown();
  });
});
