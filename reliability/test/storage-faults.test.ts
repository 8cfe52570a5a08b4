// Scenario 4 — storage faults while an engine runs: the database turned read-only, the disk
// full, a commit that throws for a while. The engine surfaces each failure (engine:error), never
// reports a job done that is not persisted (no job:completed/job:failed event without its result
// in the store; no new results while writes fail), and recovers when the fault clears.
//
// Read-only: the suite runs as root here, and root ignores file permissions, so `chmod 0444`
// on the database (and its -wal/-shm) would not stop a single write. Instead the read-only
// fault is SQLite's own: `PRAGMA query_only = ON` on the store's connection makes every write
// fail with SQLITE_READONLY through the real store code, as root or not. The open-time case
// uses chmod when not root, else a `readonly: true` connection.
import { chmodSync, readFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { Engine } from "@pyrexis/engine";
import { AsyncExecutor, ExecutorRouter } from "@pyrexis/executors";
import { isPyrexisError, StoreFailureError, type Job, type JobStatus, type Result } from "@pyrexis/models";
import type { CommitBatch, JobStore, ListJobsPage, ListJobsQuery } from "@pyrexis/storage";
import { SqliteJobStore } from "@pyrexis/storage-sqlite";
import { seededRandom, tempDir, waitFor } from "@pyrexis/test-utils";
import { recordFigures, seedFor } from "./helpers.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/**
 * Passes everything to a real store; records which results were durably committed, and fails
 * commits (without touching the inner store) while `failWith()` returns an error.
 */
class FaultInjectingStore implements JobStore {
  readonly capabilities: JobStore["capabilities"];
  readonly persistedResults = new Set<string>();
  commits = 0;
  failedCommits = 0;
  failWith: (commitNo: number) => Error | undefined = () => undefined;
  readonly #inner: JobStore;

  constructor(inner: JobStore) {
    this.#inner = inner;
    this.capabilities = inner.capabilities;
  }

  async commit(batch: CommitBatch): Promise<void> {
    const n = ++this.commits;
    const error = this.failWith(n);
    if (error !== undefined) {
      this.failedCommits++;
      throw error;
    }
    try {
      await this.#inner.commit(batch);
    } catch (e) {
      this.failedCommits++;
      throw e;
    }
    for (const r of batch.results ?? []) this.persistedResults.add(r.jobId);
  }
  getJob(id: string): Promise<Job | undefined> {
    return this.#inner.getJob(id);
  }
  getResult(jobId: string): Promise<Result | undefined> {
    return this.#inner.getResult(jobId);
  }
  listJobs(query?: ListJobsQuery): Promise<ListJobsPage> {
    return this.#inner.listJobs(query);
  }
  countByStatus(): Promise<Record<JobStatus, number>> {
    return this.#inner.countByStatus();
  }
  close(): Promise<void> {
    return this.#inner.close();
  }
}

interface Harness {
  db: Database.Database;
  store: FaultInjectingStore;
  engine: Engine;
  loop: Promise<void>;
  errors: { error: unknown; context: string }[];
  /** Terminal events whose result was not in the store when they were emitted (must stay empty). */
  unpersistedEvents: string[];
  state: { faulted: boolean; runsDuringFault: number; completedEvents: number };
  rawCounts(): { jobs: number; results: number };
}

async function harness(name: string, random: () => number): Promise<Harness> {
  const { dir, remove: cleanup } = tempDir("pyrexis-rel-");
  const db = new Database(join(dir, `${name}.db`));
  const store = new FaultInjectingStore(await SqliteJobStore.open({ database: db }));
  const state = { faulted: false, runsDuringFault: 0, completedEvents: 0 };
  const handlers = {
    work: async (p: { i: number; ms: number; failUntil: number }, ctx: { attempt: number }) => {
      if (state.faulted) state.runsDuringFault++;
      await new Promise((r) => setTimeout(r, p.ms));
      if (p.failUntil >= ctx.attempt) throw new Error(`planned failure ${ctx.attempt}`);
      return { i: p.i };
    },
  };
  void random;
  const engine = new Engine({
    store,
    executors: new ExecutorRouter({ async: new AsyncExecutor({ handlers }) }),
    handlerNames: ["work"],
    concurrency: { async: 8 },
    shutdownGraceMs: 1000,
  });
  const errors: Harness["errors"] = [];
  const unpersistedEvents: string[] = [];
  engine.on("engine:error", (e) => errors.push(e));
  const check = ({ result }: { result: Result }): void => {
    state.completedEvents++;
    if (!store.persistedResults.has(result.jobId)) unpersistedEvents.push(result.jobId);
  };
  engine.on("job:completed", check);
  engine.on("job:failed", check);
  const loop = engine.runLoop();
  const raw = new Database(join(dir, `${name}.db`), { readonly: true });
  const jobsStmt = raw.prepare("SELECT count(*) AS n FROM jobs");
  const resultsStmt = raw.prepare("SELECT count(*) AS n FROM results");
  const h: Harness = {
    db,
    store,
    engine,
    loop,
    errors,
    unpersistedEvents,
    state,
    rawCounts: () => ({ jobs: (jobsStmt.get() as { n: number }).n, results: (resultsStmt.get() as { n: number }).n }),
  };
  cleanups.push(async () => {
    store.failWith = () => undefined;
    await engine.shutdown({ graceMs: 0 }).catch(() => {});
    await loop;
    raw.close();
    cleanup();
  });
  return h;
}

function specs(
  n: number,
  random: () => number,
  prefix: string,
): {
  id: string;
  handler: string;
  payload: { i: number; ms: number; failUntil: number };
  maxAttempts: number;
  backoff: { baseMs: number; maxMs: number };
}[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `${prefix}-${i}`,
    handler: "work",
    payload: { i, ms: 1 + Math.floor(random() * 8), failUntil: random() < 0.2 ? 1 : random() < 0.05 ? 99 : 0 },
    maxAttempts: 3,
    backoff: { baseMs: 2, maxMs: 20 },
  }));
}

/** After recovery: every job terminal, exactly one result each, agreeing with the job. */
async function auditRecovered(h: Harness, ids: readonly string[]): Promise<{ completed: number; failed: number }> {
  await Promise.all(ids.map((id) => h.engine.waitForResult(id, { signal: AbortSignal.timeout(60_000) })));
  await h.engine.flush();
  let completed = 0;
  let failed = 0;
  for (const id of ids) {
    const job = await h.store.getJob(id);
    const result = await h.store.getResult(id);
    expect(result?.status, id).toBe(job?.status);
    expect(job!.attempts).toBeLessThanOrEqual(job!.maxAttempts);
    const { failUntil } = job!.payload as { failUntil: number };
    expect(job!.status, id).toBe(failUntil >= 3 ? "failed" : "completed");
    if (job!.status === "completed") completed++;
    else failed++;
  }
  expect(h.rawCounts()).toEqual({ jobs: ids.length, results: ids.length });
  expect(h.unpersistedEvents, "terminal events without a persisted result").toEqual([]);
  return { completed, failed };
}

interface FaultKind {
  name: string;
  engage(h: Harness): void;
  clear(h: Harness): void;
  /** Writes that need no new page may still succeed (disk full), so results may still grow. */
  allWritesFail: boolean;
}

const faults: FaultKind[] = [
  {
    name: "read-only database (PRAGMA query_only on the store's connection; root bypasses chmod)",
    engage: (h) => h.db.pragma("query_only = ON"),
    clear: (h) => h.db.pragma("query_only = OFF"),
    allWritesFail: true,
  },
  {
    name: "disk full (SQLite max_page_count reached: SQLITE_FULL)",
    engage: (h) => {
      const pages = h.db.pragma("page_count", { simple: true }) as number;
      h.db.pragma(`max_page_count = ${pages}`);
    },
    clear: (h) => h.db.pragma("max_page_count = 1073741823"),
    allWritesFail: false,
  },
  {
    name: "disk full (store wrapper: every commit fails with StoreFailureError)",
    engage: (h) => (h.store.failWith = () => new StoreFailureError("SQLITE_FULL: database or disk is full (simulated)")),
    clear: (h) => (h.store.failWith = () => undefined),
    allWritesFail: true,
  },
];

describe("storage faults while the engine runs", () => {
  it.each(faults.map((f, i) => [f.name, f, i] as const))(
    "%s: surfaced, nothing reported done unpersisted, recovers",
    async (_name, fault, index) => {
      const seed = seedFor(`storage-fault-${index}`, 0x5707 + index);
      const random = seededRandom(seed);
      const h = await harness(`fault-${index}`, random);
      const list = specs(300, random, "j");
      await h.engine.submitJobs(list);
      await waitFor("some jobs to complete before the fault", () => h.state.completedEvents >= 40);

      fault.engage(h);
      h.state.faulted = true;
      const atFault = h.rawCounts();
      const errorsAtFault = h.errors.length;
      const eventsAtFault = h.state.completedEvents;
      // (How many handlers run during the fault is reported, not asserted: whether dispatch goes on
      // while results wait for the store is the engine's choice, not a guarantee.)
      await waitFor("the engine to report failing commits", () => h.errors.length >= errorsAtFault + 3);
      const eventsDuringFault = h.state.completedEvents - eventsAtFault;
      const during = h.rawCounts();
      if (fault.allWritesFail) expect(during.results, "no result written while writes fail").toBe(atFault.results);
      for (const e of h.errors.slice(errorsAtFault)) expect(isPyrexisError(e.error, "STORE_FAILURE"), String(e.error)).toBe(true);

      // A submission while the store fails: a typed error and nothing written, or durable.
      let submittedDuringFault: string[] = [];
      try {
        await h.engine.submitJob({ id: "during-fault", handler: "work", payload: { i: -1, ms: 1, failUntil: 0 } });
        submittedDuringFault = ["during-fault"];
      } catch (e) {
        expect(isPyrexisError(e, "STORE_FAILURE"), String(e)).toBe(true);
        expect(h.rawCounts().jobs).toBe(during.jobs);
      }
      expect(h.unpersistedEvents, "terminal events without a persisted result").toEqual([]);

      fault.clear(h);
      h.state.faulted = false;
      const outcome = await auditRecovered(h, [...list.map((s) => s.id), ...submittedDuringFault]);
      recordFigures(`storage-fault-${index}`, {
        fault: fault.name,
        seed,
        jobs: list.length + submittedDuringFault.length,
        ...outcome,
        engineErrors: h.errors.length,
        failedCommits: h.store.failedCommits,
        handlerRunsDuringFault: h.state.runsDuringFault,
        terminalEventsDuringFault: eventsDuringFault,
        lost: 0,
      });
    },
  );

  it("a commit that throws for a while (seeded windows, coded and uncoded errors): every job still ends with one result", async () => {
    const seed = seedFor("storage-fault-windows", 0x5710);
    const random = seededRandom(seed);
    const h = await harness("windows", random);
    const windows: [number, number][] = [];
    for (let w = 0, at = 3; w < 5; w++) {
      at += 2 + Math.floor(random() * 10);
      const len = 1 + Math.floor(random() * 4);
      windows.push([at, at + len]);
      at += len;
    }
    const injected = new Set<unknown>();
    h.store.failWith = (n) => {
      const hit = windows.findIndex(([a, b]) => n >= a && n < b);
      if (hit < 0) return undefined;
      const error =
        hit % 2 === 0
          ? new StoreFailureError(`I/O error (simulated, window ${hit})`)
          : new Error(`SQLITE_IOERR: disk I/O error (uncoded, window ${hit})`);
      injected.add(error);
      return error;
    };
    const ids: string[] = [];
    let rejectedSubmits = 0;
    const lastEnd = windows.at(-1)![1];
    // Submissions keep coming until every window has been hit; a rejected one must leave nothing behind.
    // Failing transitions are retried with backoff (10 ms doubling), during which submissions
    // fail fast; keep going, bounded, until the commit counter has passed every window.
    const deadline = Date.now() + 60_000;
    for (let batch = 0; h.store.commits <= lastEnd && Date.now() < deadline; batch++) {
      const list = specs(20, random, `b${batch}`);
      try {
        await h.engine.submitJobs(list);
        ids.push(...list.map((s) => s.id));
      } catch (e) {
        // The store's own error, passed through as is (an uncoded one stays uncoded; see the
        // report), or a typed engine error; never anything else.
        expect(isPyrexisError(e) || injected.has(e), String(e)).toBe(true);
        for (const s of list) expect(await h.store.getJob(s.id)).toBeUndefined();
        rejectedSubmits++;
      }
      await new Promise((r) => setTimeout(r, random() * 10));
    }
    expect(h.store.commits, "every fault window was reached").toBeGreaterThan(lastEnd);
    const outcome = await auditRecovered(h, ids);
    expect(h.errors.length, "failing commits were surfaced").toBeGreaterThan(0);
    recordFigures("storage-fault-windows", {
      seed,
      windows,
      jobs: ids.length,
      rejectedSubmits,
      ...outcome,
      commits: h.store.commits,
      failedCommits: h.store.failedCommits,
      engineErrors: h.errors.length,
      lost: 0,
    });
  });

  it("opening a read-only database file is a typed error and changes nothing", async () => {
    const { dir, remove: cleanup } = tempDir("pyrexis-rel-");
    cleanups.push(cleanup);
    const path = join(dir, "ro.db");
    const seedStore = await SqliteJobStore.open({ path });
    await seedStore.close();
    const before = readFileSync(path);
    const isRoot = process.getuid?.() === 0;
    let how: string;
    let error: unknown;
    if (!isRoot) {
      how = "chmod 0444";
      chmodSync(path, 0o444);
      cleanups.push(() => chmodSync(path, 0o644));
      error = await SqliteJobStore.open({ path }).then(
        async (s) => {
          await s.close();
          return undefined;
        },
        (e: unknown) => e,
      );
    } else {
      // Root writes through 0444, so the file cannot be made read-only by permissions here.
      how = "readonly connection (root ignores chmod)";
      const conn = new Database(path, { readonly: true });
      cleanups.push(() => {
        if (conn.open) conn.close();
      });
      error = await SqliteJobStore.open({ database: conn }).then(
        async (s) => {
          // Opened (nothing to migrate): then the first write must fail, typed.
          const failure = await s
            .commit({
              insert: [],
              update: [],
              results: [{ jobId: "x", status: "completed", startedAt: 0, endedAt: 0, durationMs: 0, attempts: 1 }],
            })
            .then(
              () => undefined,
              (e: unknown) => e,
            );
          await s.close();
          return failure;
        },
        (e: unknown) => e,
      );
    }
    console.log(`[reliability] read-only open (${how}): ${String(error)}`);
    expect(isPyrexisError(error), String(error)).toBe(true);
    expect(readFileSync(path).equals(before), "file unchanged").toBe(true);
  });
});
