// Scenario — prune kill loop. An engine process with retention on (every finished job older than
// an hour, in batches of 20, one batch per tick) runs on a SQLite file seeded with a backlog of
// old finished jobs and old unfinished ones, while it runs new jobs; it is SIGKILLed at random
// (seeded) moments, again and again, most of them in the middle of the backlog's prune. Then one
// last run finishes the prune and the jobs, and the file is audited: nothing unfinished lost,
// nothing duplicated, no result left without its job, every old finished job gone.
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import type { Job, JobStatus, Result } from "@pyrexis/models";
import { SqliteJobStore } from "@pyrexis/storage-sqlite";
import { seededRandom, tempDir, waitFor } from "@pyrexis/test-utils";
import { CHAOS, killLiveChildren, readRunLog, recordFigures, seedFor, startFixtureProc } from "./helpers.js";

const cleanups: (() => void)[] = [];
afterEach(() => {
  killLiveChildren();
  for (const c of cleanups.splice(0)) c();
});

const ROUNDS = Number(process.env.PYREXIS_CHAOS_ROUNDS ?? (CHAOS ? 40 : 6));
const HOUR = 3_600_000;
const CHUNK = 30;

/** A job record as an engine would have written it, `ageMs` ago. */
function record(id: string, status: JobStatus, ageMs: number, runAt: number): Job {
  const at = Date.now() - ageMs;
  return {
    id,
    handler: "work",
    payload: { i: 0, ms: 0, failUntil: 0 },
    priority: 5,
    mode: "async",
    maxAttempts: 3,
    backoff: { baseMs: 5, maxMs: 50, jitter: 0 },
    status,
    attempts: status === "pending" || status === "created" ? 0 : 1,
    createdAt: at - HOUR,
    updatedAt: at,
    runAt,
    version: 1,
  };
}

function resultOf(job: Job): Result {
  return {
    jobId: job.id,
    status: job.status === "completed" ? "completed" : job.status === "failed" ? "failed" : "cancelled",
    ...(job.status === "completed" ? { output: { ok: true } } : { error: { name: "Error", message: "seeded", code: "SEEDED" } }),
    startedAt: job.updatedAt - 10,
    endedAt: job.updatedAt,
    durationMs: 10,
    attempts: 1,
  };
}

describe("prune kill loop: SIGKILL an engine in the middle of pruning, restart, repeat", () => {
  it(`nothing unfinished is lost, nothing duplicated, no result outlives its job (${ROUNDS} rounds)`, async () => {
    const seed = seedFor("prune-kill-loop", 0x9a11);
    const random = seededRandom(seed);
    const { dir, remove } = tempDir("pyrexis-rel-prune-");
    cleanups.push(remove);
    const db = join(dir, "prune.db");
    const log = join(dir, "runs.log");

    // The backlog: old finished jobs (with results) and old unfinished ones, some far in the future.
    const farFuture = Date.now() + 10 * 365 * 24 * HOUR;
    const oldFinished: Job[] = [];
    for (let i = 0; i < (CHAOS ? 6000 : 2400); i++) {
      const status: JobStatus = i % 5 === 0 ? "failed" : i % 7 === 0 ? "cancelled" : "completed";
      oldFinished.push(record(`old-${String(i).padStart(5, "0")}`, status, 48 * HOUR + i, 0));
    }
    const unfinished: Job[] = [
      ...Array.from({ length: 60 }, (_, i) => record(`wait-p-${i}`, "pending", 72 * HOUR, farFuture)),
      ...Array.from({ length: 60 }, (_, i) => record(`wait-r-${i}`, "retrying", 72 * HOUR, farFuture)),
      ...Array.from({ length: 30 }, (_, i) => record(`run-${i}`, "running", 72 * HOUR, 0)),
    ];
    {
      const store = await SqliteJobStore.open({ path: db });
      await store.commit({ insert: [...oldFinished, ...unfinished], results: oldFinished.map(resultOf) });
      await store.close();
    }

    const oldLeft = (): number => {
      const raw = new Database(db, { readonly: true });
      try {
        return (raw.prepare("SELECT count(*) AS n FROM jobs WHERE id LIKE 'old-%'").get() as { n: number }).n;
      } finally {
        raw.close();
      }
    };
    const left: number[] = [];
    let killedMidPrune = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const before = oldLeft();
      const proc = startFixtureProc("prune-proc.mjs", { db, log, round, chunkSize: CHUNK, cutoffAgeMs: HOUR, exit: "never" });
      await waitFor("the engine to be ready", () => proc.lines.includes("ready") || proc.child.exitCode !== null, { timeoutMs: 30_000 });
      const timer = setTimeout(() => proc.child.kill("SIGKILL"), 5 + Math.floor(random() * 400));
      const { code, signal } = await proc.exited;
      clearTimeout(timer);
      expect(signal, `round ${round}: the engine died on its own (code ${code}): ${proc.stderr.join("")}`).toBe("SIGKILL");
      const after = oldLeft();
      left.push(after);
      if (after < before && after > 0) killedMidPrune++;
    }

    const drain = startFixtureProc("prune-proc.mjs", { db, log, round: ROUNDS, chunkSize: CHUNK, cutoffAgeMs: HOUR, exit: "drain" });
    const { code } = await drain.exited;
    expect(code, drain.stderr.join("")).toBe(0);
    expect(drain.stderr.join(""), "no engine:error in the drain run").toBe("");

    const raw = new Database(db, { readonly: true });
    try {
      expect(raw.pragma("integrity_check", { simple: true })).toBe("ok");
      const count = (sql: string): number => (raw.prepare(sql).get() as { n: number }).n;
      expect(count("SELECT count(*) AS n FROM jobs WHERE id LIKE 'old-%'"), "every old finished job is gone").toBe(0);
      expect(count("SELECT count(*) AS n FROM results WHERE job_id NOT IN (SELECT id FROM jobs)"), "no result without its job").toBe(0);
      expect(
        count(
          "SELECT count(*) AS n FROM jobs WHERE status IN ('completed', 'failed', 'cancelled') AND id NOT IN (SELECT job_id FROM results)",
        ),
        "every finished job kept its result",
      ).toBe(0);
      const ids = new Set((raw.prepare("SELECT id FROM jobs").all() as { id: string }[]).map((r) => r.id));
      for (const j of unfinished) expect(ids.has(j.id), `unfinished ${j.id} (was ${j.status}) survived`).toBe(true);
      const rows = raw.prepare("SELECT id, status FROM jobs WHERE id LIKE 'wait-%'").all() as { id: string; status: string }[];
      expect(
        rows.every((r) => r.status === "pending" || r.status === "retrying"),
        "far-future jobs wait untouched",
      ).toBe(true);
      const submitted: string[] = [];
      for (let r = 0; r <= ROUNDS; r++) {
        for (let k = 0; k < CHUNK; k++) submitted.push(`p${String(r).padStart(3, "0")}-${String(k).padStart(4, "0")}`);
      }
      const present = submitted.filter((id) => ids.has(id));
      // A chunk is one atomic submit: a kill before it landed loses only that round's chunk, and
      // the drain run's chunk is always there.
      expect(present.length % CHUNK).toBe(0);
      expect(present.length).toBeGreaterThanOrEqual(CHUNK);
      expect(ids.size, "exactly the unfinished and the submitted jobs remain").toBe(unfinished.length + present.length);
      // maxAttempts 1: a job's handler starts at most once however often the engine died.
      const starts = new Map<string, number>();
      for (const e of readRunLog(log)) if (e.kind === "start") starts.set(e.jobId, (starts.get(e.jobId) ?? 0) + 1);
      for (const [id, n] of starts) if (id.startsWith("p")) expect(n, `${id} started once`).toBe(1);

      recordFigures("prune-kill-loop", {
        seed,
        rounds: ROUNDS,
        oldFinished: oldFinished.length,
        oldLeftAfterEachKill: left,
        killedMidPrune,
        submittedPresent: present.length,
        jobsAtEnd: ids.size,
      });
    } finally {
      raw.close();
    }
    // Kills must land while the backlog is being pruned (4 of 6 in a typical run), or the scenario tests nothing.
    expect(killedMidPrune, `old jobs left after each kill: ${left.join(", ")}`).toBeGreaterThanOrEqual(1);
  });
});
