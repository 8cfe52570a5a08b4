// Scenario — limits shared through the store by several engine processes on one SQLite file: a
// concurrency key (`gpu`, 2 at once) and a rate (`api`, 30 units per 400 ms) hold across all of
// them together, one engine is SIGKILLed while it holds a `gpu` slot, and its slot comes back
// once its lease expires (the other engines finish everything).
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
  type RunEntry,
} from "./helpers.js";

const LEASE_MS = 900;
const ENGINES = 3;
const GPU_SLOTS = 2;
const RATE = { units: 30, perMs: 400 };

const cleanups: (() => void)[] = [];
afterEach(() => {
  killLiveChildren();
  for (const c of cleanups.splice(0)) c();
});

/** The scenario's jobs, a pure function of the seed: half use `gpu`, half use `api` with 1–8 units; two groups. */
function flowJobs(seed: number, count: number, now: number): Job[] {
  const r = seededRandom(seed);
  return Array.from({ length: count }, (_, i) => {
    const gpu = r() < 0.5;
    const group = r() < 0.5 ? "a" : "b";
    const spec = gpu
      ? { handler: "gpu", limits: [{ key: "gpu", units: 1 }] }
      : { handler: "api", limits: [{ key: "api", units: 1 + Math.floor(r() * 8) }] };
    return createJob(parseJobSpec({ id: `f-${String(i).padStart(4, "0")}`, ...spec, payload: { i }, group, maxAttempts: 3 }), now);
  });
}

/** Most `gpu` runs at once, from start/end lines; a run without an end lasts until `openUntil`. */
function peakConcurrency(runs: readonly RunEntry[], gpuIds: ReadonlySet<string>, openUntil: number): number {
  const events: [number, number][] = [];
  const open = new Map<string, number>();
  for (const e of runs) {
    if (!gpuIds.has(e.jobId)) continue;
    const key = `${e.jobId}/${e.pid}/${e.attempt}`;
    if (e.kind === "start") open.set(key, e.at);
    if (e.kind === "end" && open.has(key)) {
      events.push([open.get(key)!, 1], [e.at, -1]);
      open.delete(key);
    }
  }
  for (const at of open.values()) events.push([at, 1], [openUntil, -1]);
  // Ends before starts at one instant: a slot handed over in the same millisecond is not an overlap.
  events.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  let now = 0;
  let peak = 0;
  for (const [, d] of events) {
    now += d;
    peak = Math.max(peak, now);
  }
  return peak;
}

describe("limits shared through one SQLite file by several engine processes, one SIGKILLed holding a slot", () => {
  it("the concurrency key and the rate hold across all engines; the killed engine's slot comes back after its lease", async () => {
    const seed = seedFor("flow-multi-engine", 0xf10e);
    const { dir, remove } = tempDir("pyrexis-flow-multi-");
    cleanups.push(remove);
    const db = join(dir, "shared.db");
    const log = join(dir, "runs.log");
    const jobs = flowJobs(seed, 160, Date.now());
    {
      const store = await openStoreAt(db);
      await store.commit({ insert: jobs });
      await store.close();
    }
    const cfg = { db, log, leaseMs: LEASE_MS, renewIntervalMs: 250, gpuMs: 15 };
    const procs: EngineProc[] = Array.from({ length: ENGINES }, () => startFixtureProc("flow-engine-proc.mjs", cfg));
    const victim = procs[0] as EngineProc;
    const victimPid = victim.child.pid ?? -1;
    const gpuIds = new Set(jobs.filter((j) => j.handler === "gpu").map((j) => j.id));
    await waitFor(
      "a gpu run of the first engine",
      () => readRunLog(log).some((e) => e.kind === "start" && e.pid === victimPid && gpuIds.has(e.jobId)),
      { timeoutMs: 60_000, intervalMs: 2 },
    );
    victim.child.kill("SIGKILL");
    const killedAt = Date.now();
    await victim.exited;
    for (const proc of procs.slice(1)) {
      const { code } = await proc.exited;
      expect(code, `engine ${proc.child.pid}: ${proc.stderr.join("")}`).toBe(0);
    }

    const runs = readRunLog(log);
    const audit = await auditFinishedStore(db, new Set(jobs.map((j) => j.id)), runs);
    expect(audit.completed, "every job completed").toBe(jobs.length);
    expect(audit.lateRuns, "no run after its job's result").toBe(0);

    // A run the kill cut short ran until the kill (its slot stays held until its lease expires:
    // the runs of the other engines show that the slot came back, by finishing every job).
    const peak = peakConcurrency(runs, gpuIds, killedAt);
    expect(peak, "gpu runs at once, across all engines").toBeLessThanOrEqual(GPU_SLOTS);

    const admits = runs.filter((e) => e.kind === "admit");
    for (const { at: t0 } of admits) {
      const sum = admits.filter(({ at }) => at > t0 - RATE.perMs && at <= t0).reduce((s, e) => s + e.attempt, 0);
      expect(sum, `api units admitted in the ${RATE.perMs} ms ending at ${t0}`).toBeLessThanOrEqual(RATE.units);
    }

    // A job that waited for its limit had no attempt counted: one attempt each, plus one per
    // interrupted attempt (a reclaim after the kill: the jobs the killed engine was running, or
    // had claimed and not yet started; or a lease lost on a stalled machine). An attempt counted
    // for a refusal would be one more, with no interruption recorded.
    const store = await openStoreAt(db);
    const extraAttempts: string[] = [];
    let interruptedJobs = 0;
    try {
      for (const job of jobs) {
        const stored = await store.getJob(job.id);
        const interrupted = (stored?.attemptErrors ?? []).filter((e) => e.error.code === "INTERRUPTED").length;
        if (interrupted > 0) interruptedJobs++;
        if ((stored?.attempts ?? 0) !== 1 + interrupted) extraAttempts.push(job.id);
      }
    } finally {
      await store.close();
    }
    expect(extraAttempts, "attempts beyond the one run").toEqual([]);
    const engines = new Set(runs.filter((e) => e.kind === "start").map((e) => e.pid));
    expect(engines.size, "all engines ran jobs").toBe(ENGINES);
    recordFigures("flow-multi-engine", {
      seed,
      jobs: jobs.length,
      runs: audit.runs,
      peakGpu: peak,
      admits: admits.length,
      interruptedJobs,
    });
  });
});
