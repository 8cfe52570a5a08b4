// Scenario — a batching handler in several engine processes on one SQLite file: calls of at most
// maxSize jobs of one key, each job keeps its own attempts and result, a poisoned item retries or
// fails alone, and an engine SIGKILLed in the middle of a call loses nothing: its jobs come back
// when their leases expire and run again elsewhere (the only runs beyond a job's attempts).
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createJob, parseJobSpec, type Job } from "@pyrexis/models";
import { seededRandom, tempDir, waitFor } from "@pyrexis/test-utils";
import {
  auditFinishedStore,
  killLiveChildren,
  openStoreAt,
  readRunLog,
  recordFigures,
  seedFor,
  startFixtureProc,
  type EngineProc,
} from "./helpers.js";

const LEASE_MS = 900;
const MAX_SIZE = 16;
const ENGINES = 3;
const TENANTS = ["a", "b", "c"];

const cleanups: (() => void)[] = [];
afterEach(() => {
  killLiveChildren();
  for (const c of cleanups.splice(0)) c();
});

/** The scenario's jobs, a pure function of the seed: ~10 % fail once, ~3 % every time. */
function batchJobs(seed: number, count: number, now: number): Job[] {
  const r = seededRandom(seed);
  return Array.from({ length: count }, (_, i) => {
    const f = r();
    const failUntil = f < 0.87 ? 0 : f < 0.97 ? 1 : 99;
    const tenant = TENANTS[Math.floor(r() * TENANTS.length)] as string;
    return createJob(
      parseJobSpec({
        id: `b-${String(i).padStart(5, "0")}`,
        handler: "embed",
        payload: { i, tenant, failUntil },
        maxAttempts: 3,
        backoff: { baseMs: 5, maxMs: 40, jitter: 0.5 },
      }),
      now,
    );
  });
}

describe("a batching handler in several engine processes on one SQLite file, one SIGKILLed mid-call", () => {
  it("every job terminal with one result; calls of at most maxSize jobs of one key; extra runs only in the killed call", async () => {
    const seed = seedFor("batching-multi-engine", 0xba7c);
    const { dir, remove } = tempDir("pyrexis-batch-multi-");
    cleanups.push(remove);
    const db = join(dir, "shared.db");
    const log = join(dir, "runs.log");
    const jobs = batchJobs(seed, 600, Date.now());
    {
      const store = await openStoreAt(db);
      for (let i = 0; i < jobs.length; i += 300) await store.commit({ insert: jobs.slice(i, i + 300) });
      await store.close();
    }
    const cfg = { db, log, leaseMs: LEASE_MS, renewIntervalMs: 250, maxSize: MAX_SIZE, callMs: 40 };
    const procs: EngineProc[] = Array.from({ length: ENGINES }, () => startFixtureProc("batch-engine-proc.mjs", cfg));
    const victim = procs[0] as EngineProc;
    const victimPid = victim.child.pid ?? -1;
    // Kill the first engine while one of its calls is in flight (its handler sleeps 40 ms per call).
    await waitFor("a call of the first engine", () => readRunLog(log).some((e) => e.kind === "call" && e.pid === victimPid), {
      timeoutMs: 60_000,
      intervalMs: 2,
    });
    victim.child.kill("SIGKILL");
    await victim.exited;
    for (const proc of procs.slice(1)) {
      const { code } = await proc.exited;
      expect(code, `engine ${proc.child.pid}: ${proc.stderr.join("")}`).toBe(0);
    }

    const runs = readRunLog(log);
    const audit = await auditFinishedStore(db, new Set(jobs.map((j) => j.id)), runs);
    expect(audit.lateRuns, "no run after its job's result").toBe(0);
    const calls = runs.filter((e) => e.kind === "call");
    for (const call of calls) {
      // A call line: `call <keys> <size> …`; readRunLog puts the keys in jobId and the size in attempt.
      expect(call.jobId.split(","), "one key per call").toHaveLength(1);
      expect(call.attempt, "at most maxSize jobs per call").toBeLessThanOrEqual(MAX_SIZE);
    }
    // Runs beyond a job's attempts: only jobs that were in a call of the killed engine.
    const store = await openStoreAt(db);
    const extra: string[] = [];
    try {
      const startsOf = new Map<string, number>();
      for (const e of runs) if (e.kind === "start") startsOf.set(e.jobId, (startsOf.get(e.jobId) ?? 0) + 1);
      const inKilledCall = new Set(runs.filter((e) => e.kind === "start" && e.pid === victimPid).map((e) => e.jobId));
      for (const job of jobs) {
        const stored = await store.getJob(job.id);
        const starts = startsOf.get(job.id) ?? 0;
        if (starts > (stored?.attempts ?? 0)) extra.push(job.id);
      }
      expect(
        extra.filter((id) => !inKilledCall.has(id)),
        "extra runs are explained by the killed engine",
      ).toEqual([]);
    } finally {
      await store.close();
    }
    const figures = {
      seed,
      jobs: audit.jobs,
      completed: audit.completed,
      failed: audit.failed,
      calls: calls.length,
      runs: audit.runs,
      extraRuns: extra.length,
    };
    recordFigures("batching-multi-engine", figures);
    expect(audit.completed + audit.failed).toBe(jobs.length);
    expect(calls.length, "jobs shared calls").toBeLessThan(jobs.length);
  });
});
