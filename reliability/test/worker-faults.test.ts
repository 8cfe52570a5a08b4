// Scenario 2 — worker faults. Handlers that exit their worker, abort the child process
// (SIGABRT, like a native fault), hang forever ignoring the abort signal, leak memory past a
// heap limit, throw non-Errors or return non-JSON. The engine keeps going, each job ends as its
// policy says, a crashed worker is never reused, and no child process outlives shutdown.
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Engine } from "@pyrexis/engine";
import { createExecutors } from "@pyrexis/executors";
import type { JobSpecInput, Result } from "@pyrexis/models";
import { SqliteJobStore } from "@pyrexis/storage-sqlite";
import { seededRandom, tempDir, waitFor } from "@pyrexis/test-utils";
import { fixture, isAlive, readRunLog, recordFigures, seedFor } from "./helpers.js";

type Mode = "async" | "thread" | "process";
interface Identity {
  pid: number;
  threadId: number;
}

interface FaultCase {
  name: string;
  mode: Mode;
  spec: Omit<JobSpecInput, "mode">;
  /** Kills the worker: the next job of this mode must run on a different one. */
  crashes: boolean;
  /** Expected error code of the final result (undefined: any typed or plain error). */
  code?: string;
  attempts: number;
}

const BACKOFF = { baseMs: 5, maxMs: 20 };

function cases(): FaultCase[] {
  const list: FaultCase[] = [];
  for (const mode of ["thread", "process"] as const) {
    list.push(
      {
        name: `${mode}: process.exit`,
        mode,
        spec: { handler: "exit", payload: { code: 9 }, maxAttempts: 2, backoff: BACKOFF },
        crashes: true,
        code: "WORKER_CRASHED",
        attempts: 2,
      },
      {
        name: `${mode}: hang ignoring abort, timeoutMs`,
        mode,
        spec: { handler: "hang", maxAttempts: 2, timeoutMs: 250, backoff: BACKOFF },
        crashes: true,
        code: "TIMEOUT",
        attempts: 2,
      },
      {
        name: `${mode}: busy loop, timeoutMs`,
        mode,
        spec: { handler: "hang", payload: { cpu: true }, maxAttempts: 1, timeoutMs: 250 },
        crashes: true,
        code: "TIMEOUT",
        attempts: 1,
      },
      {
        name: `${mode}: memory leak past the heap limit`,
        mode,
        spec: { handler: "leak", maxAttempts: 1 },
        crashes: true,
        code: "WORKER_CRASHED",
        attempts: 1,
      },
    );
  }
  list.push({
    name: "process: process.abort() (SIGABRT)",
    mode: "process",
    spec: { handler: "abort", maxAttempts: 2, backoff: BACKOFF },
    crashes: true,
    code: "WORKER_CRASHED",
    attempts: 2,
  });
  // The async mode cannot stop a hung handler, but its job must still time out and move on.
  list.push({
    name: "async: hang ignoring abort, timeoutMs",
    mode: "async",
    spec: { handler: "hang", maxAttempts: 2, timeoutMs: 150, backoff: BACKOFF },
    crashes: false,
    code: "TIMEOUT",
    attempts: 2,
  });
  for (const mode of ["async", "thread", "process"] as const) {
    for (const kind of ["string", "number", "null", "undefined", "object", "symbol", "bare"]) {
      list.push({
        name: `${mode}: throws ${kind}`,
        mode,
        spec: { handler: "throwValue", payload: { kind }, maxAttempts: 2, backoff: BACKOFF },
        crashes: false,
        attempts: 2,
      });
    }
    for (const kind of ["bigint", "nan", "function", "cycle", "date", "map", "symbol"]) {
      list.push({
        name: `${mode}: returns non-JSON ${kind}`,
        mode,
        spec: { handler: "nonJson", payload: { kind }, maxAttempts: 1 },
        crashes: false,
        attempts: 1,
      });
    }
  }
  return list;
}

describe("worker faults", () => {
  const { dir, remove: cleanup } = tempDir("pyrexis-rel-");
  const log = join(dir, "runs.log");
  let engine: Engine;
  let loop: Promise<void>;
  const errors: string[] = [];

  beforeAll(async () => {
    // Read by the fixture handlers in this process, in worker threads and in child processes.
    process.env.PYREXIS_RUN_LOG = log;
    const limits = { maxOldGenerationSizeMb: 48, maxYoungGenerationSizeMb: 8 };
    engine = new Engine({
      store: await SqliteJobStore.open({ path: join(dir, "faults.db") }),
      executors: createExecutors({
        handlersModule: fixture("handlers.mjs"),
        thread: { minWorkers: 1, maxWorkers: 1, abortGraceMs: 200, resourceLimits: limits },
        process: { minWorkers: 1, maxWorkers: 1, abortGraceMs: 200, resourceLimits: limits },
      }),
      handlerNames: ["work", "whoami", "exit", "abort", "hang", "leak", "throwValue", "nonJson", "noop"],
      concurrency: { async: 16, thread: 1, process: 1 },
    });
    engine.on("engine:error", ({ context }) => errors.push(context));
    loop = engine.runLoop();
  });

  afterAll(async () => {
    await engine?.shutdown({ graceMs: 0 });
    await loop;
    delete process.env.PYREXIS_RUN_LOG;
    cleanup();
  });

  async function run(spec: JobSpecInput): Promise<Result> {
    const job = await engine.submitJob(spec);
    return engine.waitForResult(job.id);
  }

  it("ends every faulty job as its policy says, never reuses a crashed worker, keeps running other jobs", async () => {
    const seed = seedFor("worker-faults", 0xfa17);
    const random = seededRandom(seed);
    const all = cases();
    // Seeded order within each mode, so a fault's neighbours vary between seeds.
    const byMode = new Map<Mode, FaultCase[]>();
    for (const c of all) byMode.set(c.mode, [...(byMode.get(c.mode) ?? []), c]);
    for (const list of byMode.values()) list.sort(() => random() - 0.5);

    // Healthy background work in every mode, all the while.
    const background = (["async", "thread", "process"] as const).flatMap((mode) =>
      Array.from({ length: 20 }, (_, i) => ({ handler: "work", mode, payload: { i, ms: 1 + (i % 5), failUntil: 0 }, priority: 0 })),
    );
    const bgJobs = await engine.submitJobs(background);

    const identities: Identity[] = [];
    const outcomes: { name: string; status: string; code: string | undefined; attempts: number; crashedWorkers: number }[] = [];

    await Promise.all(
      [...byMode.entries()].map(async ([mode, list]) => {
        for (const c of list) {
          const before = (await run({ handler: "whoami", mode, priority: 10 })).output as unknown as Identity;
          identities.push(before);
          const logBefore = readRunLog(log).length;
          const result = await run({ ...c.spec, mode, priority: 10 });
          const after = (await run({ handler: "whoami", mode, priority: 10 })).output as unknown as Identity;
          identities.push(after);
          // The policy: retryable failures use every attempt, then fail with a result.
          expect(result.status, c.name).toBe("failed");
          expect(result.attempts, c.name).toBe(c.attempts);
          if (c.code) expect(result.error?.code, `${c.name}: ${result.error?.message}`).toBe(c.code);
          expect(typeof result.error?.message, c.name).toBe("string");
          const crashed = readRunLog(log)
            .slice(logBefore)
            .filter((e) => e.kind === "crash" && e.jobId === result.jobId)
            .map((e) => (mode === "thread" ? `t${e.threadId}` : `p${e.pid}`));
          if (c.crashes) {
            expect(crashed.length, `${c.name}: the handler started`).toBeGreaterThan(0);
            const id = mode === "thread" ? `t${after.threadId}` : `p${after.pid}`;
            expect(crashed, `${c.name}: a crashed worker was reused`).not.toContain(id);
            if (mode === "process") expect(after.pid).not.toBe(before.pid);
            if (mode === "thread") expect(after.threadId).not.toBe(before.threadId);
          }
          outcomes.push({
            name: c.name,
            status: result.status,
            code: result.error?.code,
            attempts: result.attempts,
            crashedWorkers: new Set(crashed).size,
          });
        }
      }),
    );

    // The healthy jobs all completed, whatever their neighbours did.
    for (const job of bgJobs) expect((await engine.waitForResult(job.id)).status, job.id).toBe("completed");
    const counts = await engine.countByStatus();
    expect(counts.running + counts.pending + counts.retrying).toBe(0);
    expect(errors, "no engine errors").toEqual([]);

    const childPids = new Set(identities.filter((i) => i.pid !== process.pid).map((i) => i.pid));
    for (const e of readRunLog(log)) if (e.pid !== process.pid) childPids.add(e.pid);
    await engine.shutdown({ graceMs: 0 });
    await loop;
    // No child process is left behind: every pid we saw is gone (ESRCH).
    await waitFor("every child process to exit after shutdown", () => [...childPids].every((pid) => !isAlive(pid)), {
      timeoutMs: 10_000,
      intervalMs: 50,
    });
    recordFigures("worker-faults", {
      seed,
      faults: outcomes.length,
      crashes: outcomes.filter((o) => o.crashedWorkers > 0).length,
      childPids: childPids.size,
      backgroundJobs: bgJobs.length,
    });
    console.table(outcomes);
  });
});
