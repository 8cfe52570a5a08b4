// Scenario 3 — graceful shutdown under load. SIGTERM to an engine process while hundreds of
// jobs run: short in-flight jobs finish within the grace period, long ones go back to
// `retrying` (their attempt not counted), the process exits 0; a restart drains everything.
// A second SIGTERM forces the exit, and still nothing that was committed is lost.
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Result } from "@pyrexis/models";
import { SqliteJobStore } from "@pyrexis/storage-sqlite";
import { tempDir, waitFor } from "@pyrexis/test-utils";
import {
  auditFinishedStore,
  killLiveChildren,
  readRunLog,
  recordFigures,
  seedFor,
  startEngineProc,
  type EngineProc,
  type EngineProcConfig,
} from "./helpers.js";

const cleanups: (() => void)[] = [];
afterEach(() => {
  killLiveChildren();
  for (const c of cleanups.splice(0)) c();
});

const JOBS = 400;
const GRACE_MS = 2000;

function setup(name: string, seed: number): EngineProcConfig {
  const { dir, remove: cleanup } = tempDir("pyrexis-rel-");
  cleanups.push(cleanup);
  return {
    db: join(dir, `${name}.db`),
    log: join(dir, "runs.log"),
    seed,
    chunks: 1,
    chunkSize: JOBS,
    exit: "never",
    kind: "shutdown",
    graceMs: GRACE_MS,
    asyncConcurrency: 300,
  };
}

/** Waits until the engine is up and at least `n` handlers have started. */
async function underLoad(proc: EngineProc, log: string, n: number): Promise<void> {
  await waitFor("the engine to be ready", () => proc.lines.includes("ready") || proc.child.exitCode !== null, { timeoutMs: 30_000 });
  expect(proc.child.exitCode, proc.stderr.join("")).toBeNull();
  await waitFor(`${n} handlers to start`, () => readRunLog(log).length >= n, { timeoutMs: 30_000 });
}

async function drain(cfg: EngineProcConfig): Promise<Awaited<ReturnType<typeof auditFinishedStore>>> {
  const proc = startEngineProc({ ...cfg, exit: "drain", workMaxMs: 30 });
  const { code } = await proc.exited;
  expect(code, proc.stderr.join("")).toBe(0);
  const ids = new Set(Array.from({ length: JOBS }, (_, k) => `c000-${String(k).padStart(4, "0")}`));
  const summary = await auditFinishedStore(cfg.db, ids, readRunLog(cfg.log));
  expect(summary.completed, "no planned failures: every job completes").toBe(JOBS);
  expect(summary.lateRuns).toBe(0);
  return summary;
}

describe("graceful shutdown under load (SIGTERM to an engine process)", () => {
  it("lets in-flight jobs finish within the grace period, puts the rest back to retrying, loses nothing", async () => {
    const seed = seedFor("shutdown-graceful", 0x7e4a);
    const cfg = setup("graceful", seed);
    const proc = startEngineProc(cfg);
    await underLoad(proc, cfg.log, 250);
    const signalledAt = Date.now();
    proc.child.kill("SIGTERM");
    const { code, signal } = await proc.exited;
    expect({ code, signal }, proc.stderr.join("")).toEqual({ code: 0, signal: null });
    expect(proc.lines).toContain("stopped");

    const runs = readRunLog(cfg.log);
    const startedBefore = new Set(runs.filter((e) => e.at < signalledAt).map((e) => e.jobId));
    const store = await SqliteJobStore.open({ path: cfg.db });
    let finishedInGrace = 0;
    let backToRetrying = 0;
    try {
      const counts = await store.countByStatus();
      expect(counts.running, "no job left running").toBe(0);
      expect(counts.failed + counts.cancelled).toBe(0);
      const { jobs } = await store.listJobs({ limit: JOBS + 1 });
      expect(jobs.length).toBe(JOBS);
      for (const job of jobs) {
        const result = await store.getResult(job.id);
        const { ms } = job.payload as { ms: number };
        if (job.status === "completed") {
          expect(result?.status).toBe("completed");
          continue;
        }
        expect(result, `${job.id}: no result unless terminal`).toBeUndefined();
        expect(["pending", "retrying"]).toContain(job.status);
        if (!startedBefore.has(job.id)) continue;
        // It was running at SIGTERM and did not finish: only the 60 s jobs may be in that state.
        expect(ms, `${job.id} (${ms} ms) was running at SIGTERM and should have finished within ${GRACE_MS} ms`).toBeGreaterThan(GRACE_MS);
        expect(job.status).toBe("retrying");
        expect(job.attempts, `${job.id}: an attempt taken away by shutdown is not counted`).toBe(0);
        expect(job.lastError?.code).toBe("INTERRUPTED");
        backToRetrying++;
      }
      finishedInGrace = jobs.filter((j) => j.status === "completed" && startedBefore.has(j.id)).length;
    } finally {
      await store.close();
    }
    expect(backToRetrying, "some long jobs were in flight").toBeGreaterThan(0);
    const summary = await drain(cfg);
    recordFigures("shutdown-graceful", {
      seed,
      jobs: JOBS,
      startedBeforeSigterm: startedBefore.size,
      finishedInGrace,
      backToRetrying,
      lost: 0,
      results: summary.results,
    });
  });

  it("a second SIGTERM forces the exit and still loses nothing committed", async () => {
    const seed = seedFor("shutdown-forced", 0x7e4b);
    const cfg = setup("forced", seed);
    const proc = startEngineProc(cfg);
    await underLoad(proc, cfg.log, 250);
    proc.child.kill("SIGTERM");
    await waitFor("the first SIGTERM to be handled", () => proc.lines.includes("term"), { timeoutMs: 10_000 });
    proc.child.kill("SIGTERM");
    const { code, signal } = await proc.exited;
    // 2: forceShutdown completed (flushed, closed). 3 would mean it hung and the fixture's hard stop fired.
    expect({ code, signal }, proc.stderr.join("")).toEqual({ code: 2, signal: null });
    expect(proc.lines).toContain("force");

    const committed = new Map<string, Result>();
    const store = await SqliteJobStore.open({ path: cfg.db });
    try {
      expect((await store.countByStatus()).running, "no job left running after a forced stop").toBe(0);
      const { jobs } = await store.listJobs({ limit: JOBS + 1 });
      expect(jobs.length).toBe(JOBS);
      for (const job of jobs) {
        const r = await store.getResult(job.id);
        if (r) committed.set(job.id, r);
      }
    } finally {
      await store.close();
    }
    const summary = await drain(cfg);
    // Every result committed before the forced exit is still there, unchanged.
    const after = await SqliteJobStore.open({ path: cfg.db });
    try {
      for (const [id, r] of committed) expect(await after.getResult(id)).toEqual(r);
    } finally {
      await after.close();
    }
    recordFigures("shutdown-forced", {
      seed,
      jobs: JOBS,
      committedBeforeForce: committed.size,
      exitCode: code,
      lost: 0,
      results: summary.results,
    });
  });
});
