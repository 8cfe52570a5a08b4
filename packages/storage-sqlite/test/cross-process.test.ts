import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { createJob, ManualClock, parseJobSpec, type Job } from "@pyrexis/models";
import { SqliteJobStore } from "../src/index.js";
import { tempDir } from "@pyrexis/test-utils";

// Real processes on one real file: claims must stay exclusive across connections of different
// processes, and a process killed while it holds leases must lose nothing.

const fixture = fileURLToPath(new URL("./fixtures/claim-worker.mjs", import.meta.url));
const dist = fileURLToPath(new URL("../dist/index.js", import.meta.url));

/** A started fixture process and what it printed. */
interface Worker {
  readonly owner: string;
  readonly child: ChildProcessWithoutNullStreams;
  /** Every claim it reported: [job id, attempts]. */
  readonly claimed: [string, number][];
  /** Resolves once it printed "ready". */
  readonly ready: Promise<void>;
  /** Resolves after its first reported claim. */
  readonly firstClaim: Promise<void>;
  /** Resolves with its exit code and signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
}

// Only processes this file started, so afterEach kills exactly those (by their pid, via the handle).
const started: Worker[] = [];

function startWorker(path: string, owner: string, mode: "complete" | "hold", limit: number, leaseMs = 60_000): Worker {
  const child = spawn(process.execPath, [fixture, path, owner, mode, String(limit), String(leaseMs)], { stdio: "pipe" });
  const claimed: [string, number][] = [];
  let stderr = "";
  let buffered = "";
  let onReady!: () => void;
  let onClaim!: () => void;
  const ready = new Promise<void>((resolve) => (onReady = resolve));
  const firstClaim = new Promise<void>((resolve) => (onClaim = resolve));
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split("\n");
    buffered = lines.pop()!;
    for (const line of lines) {
      const message = JSON.parse(line) as "ready" | { claimed: [string, number][] };
      if (message === "ready") onReady();
      else {
        claimed.push(...message.claimed);
        onClaim();
      }
    }
  });
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve, reject) => {
    child.on("error", reject);
    child.on("exit", (code, signal) => resolve({ code, signal, stderr }));
  });
  // A worker that dies before "ready" must fail the test, not hang it.
  void exited.then(({ code, signal }) => {
    if (code !== 0 && signal === null) onReady();
  });
  const worker: Worker = { owner, child, claimed, ready, firstClaim, exited };
  started.push(worker);
  return worker;
}

/** Starts the workers together: each opened the store and waits; then all get "go" at once. */
async function go(workers: readonly Worker[]): Promise<void> {
  await Promise.all(workers.map((w) => w.ready));
  for (const w of workers) w.child.stdin.write("go\n");
}

async function expectClean(w: Worker): Promise<void> {
  const { code, signal, stderr } = await w.exited;
  expect({ code, signal, stderr }, w.owner).toEqual({ code: 0, signal: null, stderr: "" });
}

function jobs(n: number): Job[] {
  return Array.from({ length: n }, (_, i) =>
    createJob(parseJobSpec({ id: `job-${String(i).padStart(5, "0")}`, handler: "work", priority: i % 11, payload: { i } }), 1_000 + i),
  );
}

async function seed(path: string, n: number): Promise<Job[]> {
  const all = jobs(n);
  const store = await SqliteJobStore.open({ path });
  try {
    for (let i = 0; i < all.length; i += 500) await store.commit({ insert: all.slice(i, i + 500) });
  } finally {
    await store.close();
  }
  return all;
}

beforeAll(() => {
  if (!existsSync(dist)) throw new Error(`${dist} is missing: run \`pnpm --filter @pyrexis/storage-sqlite build\` first`);
});

afterEach(async () => {
  for (const w of started.splice(0)) {
    if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill("SIGKILL");
    await w.exited.catch(() => undefined);
  }
});

describe("claims across processes", () => {
  it(
    "4 processes claim and complete 2000 jobs from one file: each job claimed once, completed once, 1 attempt",
    { timeout: 60_000 },
    async () => {
      const path = tempDir("pyrexis-sqlite-xproc-").file("shared.db");
      const all = await seed(path, 2_000);
      const workers = ["w1", "w2", "w3", "w4"].map((owner) => startWorker(path, owner, "complete", 5));
      await go(workers);
      for (const w of workers) await expectClean(w);

      const claims = workers.flatMap((w) => w.claimed);
      expect(claims).toHaveLength(all.length);
      expect(new Set(claims.map(([id]) => id)).size).toBe(all.length);
      expect(claims.every(([, attempts]) => attempts === 1)).toBe(true);
      // More than one process claimed: the claims really competed for the write lock.
      expect(workers.filter((w) => w.claimed.length > 0).length).toBeGreaterThan(1);

      const store = await SqliteJobStore.open({ path });
      try {
        expect(await store.countByStatus()).toMatchObject({ completed: all.length, pending: 0, running: 0, retrying: 0 });
        expect(await store.leaseOwners()).toEqual([]);
        const byOwner = new Map(workers.flatMap((w) => w.claimed.map(([id]) => [id, w.owner] as const)));
        for (const j of all) {
          const [stored, result] = await Promise.all([store.getJob(j.id), store.getResult(j.id)]);
          expect(stored, j.id).toMatchObject({ status: "completed", attempts: 1 });
          // The result was written by the process that claimed the job.
          expect(result, j.id).toMatchObject({ status: "completed", attempts: 1, output: byOwner.get(j.id) });
        }
      } finally {
        await store.close();
      }
    },
  );

  it("4 processes opening a new file at once all migrate it safely", { timeout: 60_000 }, async () => {
    const path = tempDir("pyrexis-sqlite-xproc-").file("fresh.db");
    const workers = ["a", "b", "c", "d"].map((owner) => startWorker(path, owner, "complete", 5));
    await go(workers);
    for (const w of workers) await expectClean(w);
    const store = await SqliteJobStore.open({ path });
    expect(await store.countByStatus()).toMatchObject({ pending: 0 });
    await store.close();
  });

  it(
    "a process SIGKILLed while it holds leases: its jobs are reclaimed after expiry and finish exactly once",
    { timeout: 60_000 },
    async () => {
      const path = tempDir("pyrexis-sqlite-xproc-").file("kill.db");
      const all = await seed(path, 300);
      const leaseMs = 60_000;
      const victim = startWorker(path, "victim", "hold", 40, leaseMs);
      await go([victim]);
      await victim.firstClaim;
      victim.child.kill("SIGKILL");
      expect((await victim.exited).signal).toBe("SIGKILL");
      const held = victim.claimed.map(([id]) => id);
      expect(held).toHaveLength(40);

      // Lease expiry by the store's clock: a clock that stands at the real now sees live leases;
      // moved past the lease, the same store reclaims them (no sleeping for a real lease).
      const clock = new ManualClock(Date.now());
      const store = await SqliteJobStore.open({ path }, { clock });
      try {
        expect(await store.leaseOwners()).toEqual(["victim"]);
        expect(await store.reclaimExpired({ limit: 1000 })).toEqual({ retried: [], failed: [] });
        clock.advance(leaseMs);
        const { retried, failed } = await store.reclaimExpired({ limit: 1000 });
        expect(failed).toEqual([]);
        expect(retried.map((j) => j.id).sort()).toEqual([...held].sort());
        expect(retried.every((j) => j.status === "retrying" && j.attempts === 1 && j.lastError?.code === "INTERRUPTED")).toBe(true);
        expect(await store.leaseOwners()).toEqual([]);
        // Due again at once, whatever the backoff: the finishers' system clock is behind this clock.
        for (const j of retried) {
          const current = (await store.getJob(j.id))!;
          await store.commit({
            update: [{ job: { ...current, runAt: 0, version: current.version + 1 }, expectedVersion: current.version }],
          });
        }
      } finally {
        await store.close();
      }

      const finishers = ["f1", "f2"].map((owner) => startWorker(path, owner, "complete", 7));
      await go(finishers);
      for (const w of finishers) await expectClean(w);
      const claims = finishers.flatMap((w) => w.claimed);
      expect(claims).toHaveLength(all.length);
      expect(new Set(claims.map(([id]) => id)).size).toBe(all.length);
      const heldSet = new Set(held);
      for (const [id, attempts] of claims) expect(attempts, id).toBe(heldSet.has(id) ? 2 : 1);

      const check = await SqliteJobStore.open({ path });
      try {
        expect(await check.countByStatus()).toMatchObject({ completed: all.length, running: 0, pending: 0, retrying: 0 });
        for (const id of held) expect(await check.getResult(id), id).toMatchObject({ status: "completed", attempts: 2 });
      } finally {
        await check.close();
      }
    },
  );

  it("a killed owner named dead is reclaimed at once, without waiting for its lease", { timeout: 60_000 }, async () => {
    const path = tempDir("pyrexis-sqlite-xproc-").file("dead.db");
    await seed(path, 20);
    const victim = startWorker(path, "victim-2", "hold", 8);
    await go([victim]);
    await victim.firstClaim;
    victim.child.kill("SIGKILL");
    await victim.exited;
    const store = await SqliteJobStore.open({ path });
    try {
      expect(await store.reclaimExpired({ limit: 100 })).toEqual({ retried: [], failed: [] });
      const { retried } = await store.reclaimExpired({ limit: 100, deadOwners: ["victim-2"] });
      expect(retried.map((j) => j.id).sort()).toEqual(victim.claimed.map(([id]) => id).sort());
    } finally {
      await store.close();
    }
  });
});
