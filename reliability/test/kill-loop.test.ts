// Scenario 1 — kill loop. A real engine process on a SQLite file runs a few thousand jobs of
// mixed modes (async, thread, process), priorities and failure rates, and is SIGKILLed at
// random (seeded) moments, again and again, while new chunks of jobs are still being submitted.
// Then one last run drains the store, and the store is audited.
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { SqliteJobStore } from "@pyrexis/storage-sqlite";
import { seededRandom, tempDir, waitFor } from "@pyrexis/test-utils";
import {
  auditFinishedStore,
  CHAOS,
  isAlive,
  killLiveChildren,
  readRunLog,
  recordFigures,
  seedFor,
  startEngineProc,
  type EngineProcConfig,
} from "./helpers.js";

const cleanups: (() => void)[] = [];
afterEach(() => {
  killLiveChildren();
  for (const c of cleanups.splice(0)) c();
});

const ROUNDS = Number(process.env.PYREXIS_CHAOS_ROUNDS ?? (CHAOS ? 50 : 6));

describe("kill loop: SIGKILL an engine process at random moments, restart, repeat", () => {
  it(`every job ends in exactly one terminal state with one result, within maxAttempts, never run after it ended (${ROUNDS} rounds)`, async () => {
    const seed = seedFor("kill-loop", 0x6b11);
    const random = seededRandom(seed);
    const { dir, remove: cleanup } = tempDir("pyrexis-rel-");
    cleanups.push(cleanup);
    // One new chunk per round, so submissions are interrupted too; a few thousand jobs in CI.
    const chunkSize = CHAOS ? 200 : 400;
    const chunks = ROUNDS;
    const base: Omit<EngineProcConfig, "chunks" | "exit"> = {
      db: join(dir, "kill.db"),
      log: join(dir, "runs.log"),
      seed,
      chunkSize,
      kind: "mixed",
    };
    let kills = 0;
    let killedBeforeReady = 0;
    let killedWhileRunning = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const runsBefore = readRunLog(base.log).length;
      const proc = startEngineProc({ ...base, chunks: round + 1, exit: "never" });
      // A quarter of the kills land during startup (recovery, submission), the rest while
      // jobs run: anywhere from just after "ready" to well into the run.
      const early = random() < 0.25;
      const delay = early ? 20 + Math.floor(random() * 600) : 10 + Math.floor(random() * 900);
      let timer: NodeJS.Timeout | undefined;
      if (early) timer = setTimeout(() => proc.child.kill("SIGKILL"), delay);
      else {
        await waitFor("the engine to be ready", () => proc.lines.includes("ready") || proc.child.exitCode !== null, { timeoutMs: 30_000 });
        timer = setTimeout(() => proc.child.kill("SIGKILL"), delay);
      }
      const { code, signal } = await proc.exited;
      clearTimeout(timer);
      expect(signal, `round ${round}: engine died on its own (code ${code}): ${proc.stderr.join("")}`).toBe("SIGKILL");
      kills++;
      if (!proc.lines.includes("ready")) killedBeforeReady++;
      if (readRunLog(base.log).length > runsBefore) killedWhileRunning++;
    }

    // The last run: recover and drain everything, then exit 0.
    let drainRuns = 0;
    for (;;) {
      const proc = startEngineProc({ ...base, chunks, exit: "drain" });
      drainRuns++;
      const { code, signal } = await proc.exited;
      if (code === 0) break;
      throw new Error(`drain run exited with code ${code} signal ${signal}: ${proc.stderr.join("")}`);
    }

    const runs = readRunLog(base.log);
    const expectedIds = new Set<string>();
    for (let c = 0; c < chunks; c++) {
      for (let k = 0; k < chunkSize; k++) expectedIds.add(`c${String(c).padStart(3, "0")}-${String(k).padStart(4, "0")}`);
    }
    const summary = await auditFinishedStore(base.db, expectedIds, runs);
    expect(summary.lateRuns, "no job ran after reaching a terminal state").toBe(0);

    // Each job ended as its policy says: planned failures fail, and a completed job's final
    // attempt was past its planned failures.
    const store = await SqliteJobStore.open({ path: base.db });
    try {
      let cursor: string | undefined;
      do {
        const page = await store.listJobs({ limit: 1000, cursor });
        for (const job of page.jobs) {
          const { failUntil } = job.payload as { failUntil: number };
          if (failUntil >= job.maxAttempts) expect(job.status, `${job.id} can never succeed`).toBe("failed");
          if (job.status === "completed") expect(job.attempts).toBeGreaterThan(failUntil);
          else {
            const result = await store.getResult(job.id);
            // Failed by its own planned error only after using its attempts, else by a crash.
            if (result?.error?.code !== "INTERRUPTED") expect(job.attempts).toBeLessThanOrEqual(failUntil);
          }
        }
        cursor = page.cursor;
      } while (cursor !== undefined);
    } finally {
      await store.close();
    }

    // Children of the process pool of a SIGKILLed engine must not live on as orphans.
    const childPids = new Set(runs.filter((e) => e.pid !== 0).map((e) => e.pid));
    await waitFor("orphaned worker processes to exit", () => [...childPids].every((pid) => !isAlive(pid)), {
      timeoutMs: 15_000,
      intervalMs: 50,
    });

    recordFigures("kill-loop", {
      seed,
      rounds: ROUNDS,
      kills,
      killedBeforeReady,
      killedWhileRunning,
      drainRuns,
      jobs: summary.jobs,
      completed: summary.completed,
      failed: summary.failed,
      failedBy: summary.byError,
      handlerRuns: summary.runs,
      results: summary.results,
      lost: expectedIds.size - summary.jobs,
      lateRuns: summary.lateRuns,
      pidsCheckedGone: childPids.size,
    });
    expect(kills).toBe(ROUNDS);
  });
});
