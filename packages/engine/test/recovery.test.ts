import { spawn } from "node:child_process";
import { readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { createJob, parseJobSpec, startAttempt, type Job } from "@pyrexis/models";
import { MemoryJobStore } from "@pyrexis/storage";
import { SqliteJobStore } from "@pyrexis/storage-sqlite";
import { engineWith, tempDir } from "./helpers.js";

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

function jobIn(status: "pending" | "retrying" | "running", id: string, overrides: Partial<Job> = {}): Job {
  let job = createJob(parseJobSpec({ id, handler: "echo", payload: id, maxAttempts: 2, backoff: { baseMs: 0, maxMs: 0 } }), 1000);
  if (status !== "pending") job = startAttempt(job, 1000);
  if (status === "retrying") job = { ...job, status: "retrying", version: job.version + 1 };
  return { ...job, ...overrides };
}

describe("recovery on start", () => {
  it("re-queues pending and retrying jobs and counts an interrupted running job as a failed attempt", async () => {
    const store = new MemoryJobStore();
    await store.commit({
      insert: [jobIn("pending", "p"), jobIn("retrying", "r"), jobIn("running", "run-1"), jobIn("running", "run-last", { attempts: 2 })],
    });
    const engine = engineWith({ echo: (p) => p }, { store });
    await engine.start();
    expect(await store.getJob("run-1")).toMatchObject({ status: "retrying", attempts: 1, lastError: { code: "INTERRUPTED" } });
    // Already at its attempt limit: the interruption fails it for good, with a result.
    expect(await store.getResult("run-last")).toMatchObject({ status: "failed", attempts: 2, error: { code: "INTERRUPTED" } });
    const done: string[] = [];
    for (let r = await engine.runNext(); r; r = await engine.runNext()) done.push(r.jobId);
    expect(done.sort()).toEqual(["p", "r", "run-1"]);
    expect(await store.countByStatus()).toMatchObject({ completed: 3, failed: 1, pending: 0, retrying: 0, running: 0 });
    await engine.shutdown();
  });

  it("waitForResult resolves from the store after a restart", async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const path = join(dir, "jobs.db");
    const first = engineWith({ echo: (p) => p }, { store: await SqliteJobStore.open({ path }) });
    const job = await first.submitJob({ handler: "echo", payload: "persisted" });
    await first.runNext();
    await first.shutdown();
    const second = engineWith({ echo: (p) => p }, { store: await SqliteJobStore.open({ path }) });
    expect((await second.waitForResult(job.id)).output).toBe("persisted");
    await second.shutdown();
  });
});

describe("crash recovery with a real process (SIGKILL)", () => {
  const worker = fileURLToPath(new URL("./fixtures/crash-worker.mjs", import.meta.url));

  function runWorker(db: string, log: string, count: number, killAfterMs?: number): Promise<"exited" | "killed"> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [worker, db, log, String(count)], { stdio: ["ignore", "pipe", "inherit"] });
      let timer: NodeJS.Timeout | undefined;
      child.stdout.once("data", () => {
        if (killAfterMs !== undefined) timer = setTimeout(() => child.kill("SIGKILL"), killAfterMs);
      });
      child.on("error", reject);
      child.on("exit", (code, signal) => {
        if (timer) clearTimeout(timer);
        if (signal === "SIGKILL") resolve("killed");
        else if (code === 0) resolve("exited");
        else reject(new Error(`worker exited with code ${code}`));
      });
    });
  }

  it("ends every job in exactly one terminal state with one result, attempts within the limit", async () => {
    const seed = Number(process.env.PYREXIS_SEED ?? 0x5eed);
    console.log(`crash-recovery seed: ${seed}`);
    let state = seed >>> 0;
    const random = (): number => {
      state = (state * 1664525 + 1013904223) >>> 0;
      return state / 2 ** 32;
    };
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const db = join(dir, "crash.db");
    const log = join(dir, "runs.log");
    const count = 300;
    let kills = 0;
    for (let round = 0; round < 6; round++) {
      const outcome = await runWorker(db, log, count, 40 + Math.floor(random() * 250));
      if (outcome === "killed") kills++;
      else break;
    }
    while ((await runWorker(db, log, count)) !== "exited");
    expect(kills).toBeGreaterThan(0);

    const store = await SqliteJobStore.open({ path: db });
    const runs = new Map<string, number[]>();
    if (existsSync(log)) {
      for (const line of readFileSync(log, "utf8").split("\n")) {
        if (!line) continue;
        const [id, , at] = line.split(" ");
        runs.set(id!, [...(runs.get(id!) ?? []), Number(at)]);
      }
    }
    const counts = await store.countByStatus();
    expect(counts.completed + counts.failed + counts.cancelled).toBe(count);
    let cursor: string | undefined;
    let seen = 0;
    do {
      const page = await store.listJobs({ limit: 500, cursor });
      for (const job of page.jobs) {
        seen++;
        expect(["completed", "failed"]).toContain(job.status);
        expect(job.attempts).toBeLessThanOrEqual(job.maxAttempts);
        const result = await store.getResult(job.id);
        expect(result?.status).toBe(job.status);
        expect(result?.attempts).toBe(job.attempts);
        // No run started after the job reached its terminal state.
        for (const at of runs.get(job.id) ?? []) expect(at).toBeLessThanOrEqual(result!.endedAt);
        const payload = job.payload as { failUntil: number };
        if (payload.failUntil >= 5) expect(job.status).toBe("failed");
      }
      cursor = page.cursor;
    } while (cursor);
    expect(seen).toBe(count);
    await store.close();
  }, 60_000);
});

describe("createEngine", () => {
  it("opens a SQLite store from a path and keeps jobs across engines", async () => {
    const { createEngine } = await import("../src/index.js");
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const path = join(dir, "created.db");
    const first = await createEngine({ store: path, handlers: { echo: (p: unknown) => p } });
    const job = await first.submitJob({ handler: "echo", payload: "kept" });
    await first.shutdown();
    const second = await createEngine({ store: path, handlers: { echo: (p: unknown) => p } });
    expect(await second.runNext()).toMatchObject({ jobId: job.id, status: "completed", output: "kept" });
    await second.shutdown();
  });

  it("opens a PostgreSQL store from a postgres:// URL and keeps jobs across engines", async () => {
    const { createEngine } = await import("../src/index.js");
    const pg = (await import("pg")).default;
    const base = process.env.PYREXIS_PG_URL ?? process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
    const schema = `pyx_engine_${Math.random().toString(36).slice(2, 10)}`;
    const url = new URL(base);
    url.searchParams.set("schema", schema);
    cleanups.push(async () => {
      const client = new pg.Client({ connectionString: base });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await client.end();
    });
    const first = await createEngine({ store: url.toString(), handlers: { echo: (p: unknown) => p } });
    expect(first.store.capabilities).toMatchObject({ persistent: true, claims: true });
    const job = await first.submitJob({ handler: "echo", payload: "kept" });
    await first.shutdown();
    const second = await createEngine({ store: url.toString(), handlers: { echo: (p: unknown) => p } });
    expect(await second.runNext()).toMatchObject({ jobId: job.id, status: "completed", output: "kept" });
    await second.shutdown();
  });

  it("refuses a file that is not a Pyrexis database, without touching it", async () => {
    const { createEngine, isPyrexisError } = await import("../src/index.js");
    const { writeFileSync, readFileSync } = await import("node:fs");
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const path = join(dir, "notes.txt");
    writeFileSync(path, "not a database\n".repeat(100));
    const err = await createEngine({ store: path, handlers: { echo: (p: unknown) => p } }).catch((e: unknown) => e);
    expect(isPyrexisError(err, "INCOMPATIBLE_STORE")).toBe(true);
    expect(readFileSync(path, "utf8")).toBe("not a database\n".repeat(100));
  });
});

describe("waitForResult on a corrupt record", () => {
  it("rejects with the store's CorruptRecordError instead of hanging", async () => {
    const { CorruptRecordError } = await import("@pyrexis/models");
    const { isPyrexisError } = await import("../src/index.js");
    const store = new MemoryJobStore();
    // What a SQLite store does for a row it cannot parse: no result, the job read throws (and
    // its listing skips the row, so the engine never recovered it).
    store.getJob = () => Promise.reject(new CorruptRecordError("bad", "data is not valid JSON"));
    const engine = engineWith({ echo: (p) => p }, { store });
    await engine.start();
    const err = await engine.waitForResult("bad", { signal: AbortSignal.timeout(10_000) }).catch((e: unknown) => e);
    expect(isPyrexisError(err, "CORRUPT_RECORD")).toBe(true);
    expect((err as Error).message).toMatch(/bad/);
    await engine.shutdown();
  });
});

describe("recovery when another writer changes a job (the store wins)", () => {
  it("a cancel landing while start() recovers a running job does not fail start(); other jobs still run", async () => {
    const { FlakyStore } = await import("./helpers.js");
    const { createJob, parseJobSpec, startAttempt, transition, createResult } = await import("@pyrexis/models");
    const inner = new MemoryJobStore();
    const interrupted = startAttempt(createJob(parseJobSpec({ handler: "echo", payload: "was running" }), Date.now()), Date.now());
    const other = createJob(parseJobSpec({ handler: "echo", payload: "still runs" }), Date.now());
    await inner.commit({ insert: [interrupted, other] });
    const store = new FlakyStore(inner);
    // Recovery reads the page, then another process cancels the running job before recovery writes.
    store.listDelayMs = 30;
    const originalList = store.listJobs.bind(store);
    let cancelledElsewhere = false;
    store.listJobs = async (q) => {
      const page = await originalList(q);
      if (!cancelledElsewhere) {
        cancelledElsewhere = true;
        const now = Date.now();
        const cancelled = transition(interrupted, "cancelled", now);
        await inner.commit({
          update: [{ job: cancelled, expectedVersion: interrupted.version }],
          results: [createResult({ jobId: interrupted.id, status: "cancelled", startedAt: now, endedAt: now, attempts: 1 })],
        });
      }
      return page;
    };
    const engine = engineWith({ echo: (p) => p }, { store });
    await expect(engine.start()).resolves.toBeUndefined();
    const results = [];
    for (let r = await engine.runNext(); r; r = await engine.runNext()) results.push(r);
    expect(results.map((r) => r.output)).toEqual(["still runs"]);
    expect(await inner.getJob(interrupted.id)).toMatchObject({ status: "cancelled" });
    await engine.shutdown();
  });
});
