// The multi-engine scenario, for any store the engines share: engine processes claiming from one
// store while they are SIGKILLed and SIGSTOPped (longer than their lease, then SIGCONT: the
// paused engine's late writes must be refused), a poison job kills whichever engine runs it, and a
// fifth process cancels jobs. Then the store and the run log are audited.
import { expect } from "vitest";
import { createJob, parseJobSpec, type Job } from "@pyrexis/models";
import { seededRandom, waitFor } from "@pyrexis/test-utils";
import {
  auditFinishedStore,
  CHAOS,
  openStoreAt,
  readRunLog,
  recordFigures,
  startFixtureProc,
  type EngineProc,
  type RunEntry,
} from "./helpers.js";

/** The lease of the scenario's engines (ms). */
export const LEASE_MS = 900;

/** Rounds of the scenario: `PYREXIS_CHAOS_ROUNDS`, else 200 in chaos runs and 8 in CI. */
export const ROUNDS: number = Number(process.env.PYREXIS_CHAOS_ROUNDS ?? (CHAOS ? 200 : 8));
const ENGINES = 4;
const RENEW_MS = 250;
const POISON = "poison";

/** The jobs of the scenario: a pure function of the seed. */
function scenarioJobs(seed: number, count: number, now: number): Job[] {
  const r = seededRandom(seed * 31 + 7);
  const jobs: Job[] = [];
  for (let i = 0; i < count; i++) {
    const m = r();
    const mode = m < 0.8 ? "async" : m < 0.9 ? "thread" : "process";
    const f = r();
    const failUntil = f < 0.75 ? 0 : f < 0.92 ? 1 : 99;
    const spec = parseJobSpec({
      id: `m-${String(i).padStart(5, "0")}`,
      handler: "work",
      mode,
      priority: Math.floor(r() * 11),
      maxAttempts: 1 + Math.floor(r() * 4),
      backoff: { baseMs: 5, maxMs: 40, jitter: 0.5 },
      payload:
        mode === "async"
          ? { i, ms: Math.floor(r() * 40), failUntil, honourAbort: true }
          : { i, ms: Math.floor(r() * 3), cpu: true, failUntil },
    });
    jobs.push(createJob(spec, now));
  }
  // A poison job: its handler kills the engine process that runs it, every time.
  jobs.push(createJob(parseJobSpec({ id: POISON, handler: "exit", mode: "async", maxAttempts: 3, priority: 10 }), now));
  return jobs;
}

interface Pause {
  pid: number;
  from: number;
  to: number;
}

/**
 * Prints what the run log and the fault record say about each job with a handler start logged
 * after its result's `endedAt` (a late run), to tell a real one from a start that was already on
 * its way when the lease lapsed.
 */
async function printLateRuns(
  db: string,
  runs: readonly RunEntry[],
  pauses: readonly Pause[],
  kills: readonly { pid: number; at: number }[],
): Promise<void> {
  const byJob = new Map<string, RunEntry[]>();
  for (const e of runs) byJob.set(e.jobId, [...(byJob.get(e.jobId) ?? []), e]);
  const store = await openStoreAt(db);
  try {
    for (const [id, entries] of byJob) {
      const result = await store.getResult(id);
      if (!result || !entries.some((e) => (e.kind === "start" || e.kind === "crash") && e.at > result.endedAt)) continue;
      const pids = new Set(entries.flatMap((e) => [e.pid, e.ppid]));
      console.log(
        `[reliability] late run of ${id}: ${JSON.stringify({
          result: { status: result.status, attempts: result.attempts, startedAt: result.startedAt, endedAt: result.endedAt },
          runs: entries,
          pauses: pauses.filter((p) => pids.has(p.pid)),
          ends: kills.filter((k) => pids.has(k.pid)),
        })}`,
      );
    }
  } finally {
    await store.close();
  }
}

/** How one run of the scenario is set up. */
export interface MultiEngineScenario {
  /** Figures name (`multi-engine`, `multi-engine-postgres`). */
  readonly name: string;
  readonly seed: number;
  /** Where the engines meet: a SQLite file path or a `postgres://…?schema=` URL. */
  readonly store: string;
  /** The run log file. */
  readonly log: string;
  /** Jobs (besides the poison job). Default 4000 in chaos runs, 1200 in CI. */
  readonly jobs?: number | undefined;
  /** Where the engines open the store, when not at `store` (e.g. through a proxy); the audit reads `store`. */
  readonly engineStore?: string | undefined;
  /** More settings of every engine process (see fixtures/multi-engine-proc.mjs). */
  readonly engineConfig?: Record<string, unknown> | undefined;
  /**
   * An extra fault of this store kind, run once per round with the engine processes running now
   * (e.g. terminating database connections). Returns a word for the figures, or nothing.
   */
  readonly extraFault?: ((random: () => number, engines: readonly EngineProc[]) => Promise<string | undefined>) | undefined;
  /** Figures of the extra faults, added to the scenario's; given every engine process of the run. */
  readonly extraFigures?: ((procs: readonly EngineProc[]) => Record<string, unknown>) | undefined;
}

/** Runs the scenario and audits it (vitest `expect`s); returns its figures. */
export async function runMultiEngineScenario(scenario: MultiEngineScenario): Promise<Record<string, unknown>> {
  const { seed, log } = scenario;
  const db = scenario.store;
  const random = seededRandom(seed);
  const extraFaults: string[] = [];

  const count = scenario.jobs ?? (CHAOS ? 4000 : 1200);
  const jobs = scenarioJobs(seed, count, Date.now());
  {
    const store = await openStoreAt(db);
    for (let i = 0; i < jobs.length; i += 500) await store.commit({ insert: jobs.slice(i, i + 500) });
    await store.close();
  }
  const cfg = {
    db: scenario.engineStore ?? db,
    log,
    leaseMs: LEASE_MS,
    renewIntervalMs: RENEW_MS,
    asyncConcurrency: 8,
    ...scenario.engineConfig,
  };
  const engines: (EngineProc | undefined)[] = new Array<EngineProc | undefined>(ENGINES).fill(undefined);
  // Every end of an engine process: our SIGKILLs, and deaths by the poison job.
  const kills: { pid: number; at: number }[] = [];
  const everyProc: EngineProc[] = [];
  const start = (k: number, exit: "never" | "drain" = "never"): EngineProc => {
    const proc = startFixtureProc("multi-engine-proc.mjs", { ...cfg, owner: undefined, exit });
    engines[k] = proc;
    everyProc.push(proc);
    void proc.exited.then(() => kills.push({ pid: proc.child.pid ?? -1, at: Date.now() }));
    return proc;
  };
  const pauses: Pause[] = [];
  const refusedLateWrites: string[] = [];
  for (let k = 0; k < ENGINES; k++) start(k);

  // The fifth process: cancels 40 seeded jobs while the engines run.
  const cancelIds = [...new Set(Array.from({ length: 40 }, () => `m-${String(Math.floor(random() * count)).padStart(5, "0")}`))];
  let canceller: EngineProc | undefined;

  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < ENGINES; k++) if (engines[k]?.child.exitCode !== null || engines[k]?.child.signalCode) start(k);
    await new Promise((r) => setTimeout(r, 100 + Math.floor(random() * 400)));
    if (round === 1) canceller = startFixtureProc("cancel-proc.mjs", { db, ids: cancelIds });
    const k = Math.floor(random() * ENGINES);
    const proc = engines[k];
    const pid = proc?.child.pid;
    if (!proc || pid === undefined || proc.child.exitCode !== null) continue;
    const action = random();
    if (action < 0.45) {
      proc.child.kill("SIGKILL");
      await proc.exited;
    } else if (action < 0.8) {
      const from = Date.now();
      proc.child.kill("SIGSTOP");
      await new Promise((r) => setTimeout(r, LEASE_MS * 2 + Math.floor(random() * 500)));
      proc.child.kill("SIGCONT");
      pauses.push({ pid, from, to: Date.now() });
    }
    const live = engines.filter((e): e is EngineProc => e !== undefined && e.child.exitCode === null && e.child.signalCode === null);
    const extra = await scenario.extraFault?.(random, live);
    if (extra !== undefined) extraFaults.push(extra);
  }
  // Let the survivors finish everything (a poison job may take one more engine down on the way).
  await waitFor(
    "the engines to finish every job",
    async () => {
      for (let k = 0; k < ENGINES; k++) if (engines[k]?.child.exitCode !== null || engines[k]?.child.signalCode) start(k);
      const store = await openStoreAt(db);
      try {
        const c = await store.countByStatus();
        return c.pending + c.retrying + c.running === 0;
      } finally {
        await store.close();
      }
    },
    { timeoutMs: CHAOS ? 600_000 : 180_000, intervalMs: 250 },
  );
  if (canceller) {
    const { code } = await canceller.exited;
    expect(code, `canceller: ${canceller.stderr.join("")}`).toBe(0);
  }
  for (const proc of engines) {
    if (!proc || proc.child.exitCode !== null) continue;
    proc.child.kill("SIGKILL");
    await proc.exited;
  }
  // Writes of paused or lost holders that the store refused (fenced), as their engines reported them.
  for (const proc of everyProc) {
    for (const line of proc.stderr.join("").split("\n")) if (/store rejected the change/i.test(line)) refusedLateWrites.push(line);
  }

  const runs = readRunLog(log);
  const expectedIds = new Set(jobs.map((j) => j.id));
  const summary = await auditFinishedStore(db, expectedIds, runs, { allowCancelled: true });
  if (summary.lateRuns > 0) await printLateRuns(db, runs, pauses, kills);

  // No double claim: one start per (job, attempt).
  const startsOf = new Map<string, RunEntry[]>();
  const endOf = new Map<string, RunEntry>();
  for (const e of runs) {
    const key = `${e.jobId}#${e.attempt}`;
    if (e.kind === "start" || e.kind === "crash") {
      expect(startsOf.has(key), `attempt ${e.attempt} of ${e.jobId} started once`).toBe(false);
      startsOf.set(key, [e]);
    } else if (e.kind === "end") endOf.set(key, e);
  }
  // Two runs of one job overlap only when the earlier one's engine was paused or ended (its lease
  // could expire). A process-mode run's engine is its parent.
  // The engines' own word that they lost a job (see fixtures/multi-engine-proc.mjs): pid → job ids.
  const lostBy = new Map<number, Set<string>>();
  for (const e of runs) if (e.kind === "lost") lostBy.set(e.pid, (lostBy.get(e.pid) ?? new Set()).add(e.jobId));
  // The earlier run's lease could have expired: its engine was paused or ended, or it reported the
  // job lost (its lease lapsed while it was alive but starved, e.g. blocked on the file's write lock).
  const interrupted = (run: RunEntry, to: number): boolean =>
    [run.pid, run.ppid].some(
      (pid) =>
        pauses.some((p) => p.pid === pid && p.from <= to && p.to >= run.at) ||
        kills.some((k) => k.pid === pid && k.at >= run.at) ||
        lostBy.get(pid)?.has(run.jobId) === true,
    );
  const byJob = new Map<string, { start: RunEntry; end: number }[]>();
  for (const [key, [s]] of startsOf) {
    const end = endOf.get(key)?.at ?? Number.POSITIVE_INFINITY;
    const list = byJob.get(s!.jobId) ?? [];
    list.push({ start: s!, end });
    byJob.set(s!.jobId, list);
  }
  let overlaps = 0;
  for (const [jobId, list] of byJob) {
    list.sort((a, b) => a.start.attempt - b.start.attempt);
    for (let i = 1; i < list.length; i++) {
      const earlier = list[i - 1]!;
      const later = list[i]!;
      if (later.start.at >= earlier.end) continue;
      overlaps++;
      expect(
        interrupted(earlier.start, later.start.at),
        `${jobId}: attempt ${later.start.attempt} started while attempt ${earlier.start.attempt} ran in a live, unpaused engine`,
      ).toBe(true);
    }
  }

  // The poison job failed after maxAttempts crashes, by interruption.
  const store = await openStoreAt(db);
  let cancelled = 0;
  let startsAfterCancel = 0;
  try {
    const poison = await store.getJob(POISON);
    expect(poison).toMatchObject({ status: "failed", attempts: 3 });
    expect((await store.getResult(POISON))?.error?.code).toBe("INTERRUPTED");
    // Cancelled jobs stopped: no attempt was claimed after the cancel was durable. A claim counts
    // the attempt, and a cancelled job is never claimed again, so every attempt that ran is within
    // the cancelled record's count. (A handler may still start a few ms after the cancel: its claim
    // came first and the job was on its way to the executor; the next renewal aborts it.)
    const cancelLines = canceller?.lines.filter((l) => l.startsWith("cancelled ")) ?? [];
    for (const line of cancelLines) {
      const [, id, at] = line.split(" ");
      const record = await store.getJob(id!);
      expect(record?.status, `${id} cancelled`).toBe("cancelled");
      cancelled++;
      for (const run of byJob.get(id!) ?? []) {
        expect(run.start.attempt, `${id}: attempt ${run.start.attempt} claimed after its cancel`).toBeLessThanOrEqual(record!.attempts);
        if (run.start.at > Number(at)) startsAfterCancel++;
      }
    }
  } finally {
    await store.close();
  }

  const figures = {
    seed,
    rounds: ROUNDS,
    engines: ENGINES,
    leaseMs: LEASE_MS,
    jobs: summary.jobs,
    completed: summary.completed,
    failed: summary.failed,
    cancelled: summary.cancelled,
    cancelsLanded: cancelled,
    handlerStartsAfterCancel: startsAfterCancel,
    engineEnds: kills.length,
    pausesLongerThanLease: pauses.length,
    handlerRuns: summary.runs,
    overlapsAfterExpiredLease: overlaps,
    lostReported: [...lostBy.values()].reduce((n, ids) => n + ids.size, 0),
    lateWritesRefused: refusedLateWrites.length,
    lost: expectedIds.size - summary.jobs,
    lateRuns: summary.lateRuns,
    extraFaults: extraFaults.length,
    ...scenario.extraFigures?.(everyProc),
  };
  recordFigures(scenario.name, figures);
  expect(pauses.length + kills.length).toBeGreaterThan(0);
  return figures;
}
