import { existsSync, writeFileSync } from "node:fs";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CorruptRecordError, type Job } from "@pyrexis/models";
import { SqliteJobStore, type SqliteDatabaseLike } from "../src/index.js";
import { tempDir, type TempDir } from "@pyrexis/test-utils";
import { hashFile, job, legacyStore, rejection, result, running } from "./helpers.js";

let tmp: TempDir;
const open: SqliteJobStore[] = [];

async function openStore(path: string, options?: Parameters<typeof SqliteJobStore.open>[1]): Promise<SqliteJobStore> {
  const store = await SqliteJobStore.open({ path }, options);
  open.push(store);
  return store;
}

// Removed when each test finishes, after the stores in it are closed.
beforeEach(() => {
  tmp = tempDir("pyrexis-sqlite-");
});

afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});

describe("open", () => {
  it("opens of one file at once in one process all succeed, on a new file and on an existing one", async () => {
    const path = tmp.file("together.db");
    for (const round of ["new", "existing"]) {
      const stores = await Promise.all([0, 1, 2].map(() => openStore(path, { busyTimeoutMs: 1000 })));
      expect(stores, round).toHaveLength(3);
      await stores[0]!.commit({ insert: [job(`from-${round}`)] });
      for (const store of stores) expect(await store.getJob(`from-${round}`), round).toMatchObject({ id: `from-${round}` });
      for (const s of open.splice(0)) await s.close();
    }
  });

  it("rejects a missing source and bad options with ValidationError, writing nothing", async () => {
    const path = tmp.file("never.db");
    for (const bad of [
      () => SqliteJobStore.open({} as never),
      () => SqliteJobStore.open({ path: "" }),
      () => SqliteJobStore.open({ path }, { synchronous: "OFF" as never }),
      () => SqliteJobStore.open({ path }, { busyTimeoutMs: -1 }),
      () => SqliteJobStore.open({ path }, { walAutocheckpointPages: 1.5 }),
      () => SqliteJobStore.open({ path }, { walAutocheckpointPages: -1 }),
      () => SqliteJobStore.open({ path }, { agingRate: Number.NaN }),
    ]) {
      expect((await rejection(bad())).code).toBe("VALIDATION");
    }
    expect(existsSync(path)).toBe(false);
  });

  it("uses WAL with synchronous=NORMAL by default and FULL on request (read back from the connection)", async () => {
    const pragmas = async (options?: { synchronous?: "NORMAL" | "FULL"; busyTimeoutMs?: number; walAutocheckpointPages?: number }) => {
      const db = new Database(tmp.file(`p${open.length}.db`));
      const store = await SqliteJobStore.open({ database: db }, options);
      open.push(store);
      return {
        journal: db.pragma("journal_mode", { simple: true }),
        sync: db.pragma("synchronous", { simple: true }),
        busy: db.pragma("busy_timeout", { simple: true }),
        checkpoint: db.pragma("wal_autocheckpoint", { simple: true }),
        walLimit: db.pragma("journal_size_limit", { simple: true }),
      };
    };
    expect(await pragmas()).toEqual({ journal: "wal", sync: 1, busy: 5000, checkpoint: 10_000, walLimit: 64 * 1024 * 1024 });
    expect(await pragmas({ synchronous: "FULL", busyTimeoutMs: 250, walAutocheckpointPages: 500 })).toEqual({
      journal: "wal",
      sync: 2,
      busy: 250,
      checkpoint: 500,
      walLimit: 64 * 1024 * 1024,
    });
  });

  it("accepts a lazy database factory and declares capabilities by where the data lives", async () => {
    const lazy = await SqliteJobStore.open({ database: (): SqliteDatabaseLike => new Database(tmp.file("lazy.db")) });
    open.push(lazy);
    expect(lazy.capabilities).toEqual({
      persistent: true,
      shared: true,
      claims: true,
      flow: true,
      queryJobs: true,
      prune: true,
      schedules: true,
      dependencies: true,
    });
    const memory = await openStore(":memory:");
    expect(memory.capabilities).toEqual({
      persistent: false,
      shared: false,
      claims: true,
      flow: true,
      queryJobs: true,
      prune: true,
      schedules: true,
      dependencies: true,
    });
  });

  it("reports a path it cannot open as StoreFailureError", async () => {
    const e = await rejection(SqliteJobStore.open({ path: tmp.file("no/such/dir/x.db") }));
    expect(e.code).toBe("STORE_FAILURE");
  });
});

describe("commit", () => {
  it("round-trips jobs and results exactly", async () => {
    const store = await openStore(tmp.file("a.db"));
    const a = job("a", 1_000, { payload: { nested: [1, "two", { three: null }], unicode: "héllo ✓" } });
    await store.commit({ insert: [a] });
    expect(await store.getJob("a")).toEqual(a);
    const r = running(a);
    await store.commit({ update: [{ job: r, expectedVersion: 0 }], results: [result("a", { out: [1, 2] })] });
    expect(await store.getJob("a")).toEqual(r);
    expect(await store.getResult("a")).toEqual(result("a", { out: [1, 2] }));
    expect(await store.getJob("missing")).toBeUndefined();
    expect(await store.getResult("missing")).toBeUndefined();
  });

  it("rejects the whole batch with the typed error of the first violation and writes nothing", async () => {
    const store = await openStore(tmp.file("a.db"));
    await store.commit({ insert: [job("a"), job("b")], results: [result("b")] });
    const before = { a: await store.getJob("a"), counts: await store.countByStatus() };

    const cases: [string, Parameters<SqliteJobStore["commit"]>[0], string][] = [
      ["existing id", { insert: [job("new1"), job("a")] }, "DUPLICATE_JOB"],
      ["id repeated in batch", { insert: [job("new1"), job("new1")] }, "DUPLICATE_JOB"],
      [
        "stale version",
        { insert: [job("new1")], update: [{ job: { ...running(job("a")), version: 5 }, expectedVersion: 3 }] },
        "STALE_VERSION",
      ],
      ["missing job update", { insert: [job("new1")], update: [{ job: running(job("zz")), expectedVersion: 0 }] }, "STALE_VERSION"],
      ["second result", { insert: [job("new1")], results: [result("new1"), result("b")] }, "RESULT_EXISTS"],
      [
        "result for no job",
        { insert: [job("new1")], update: [{ job: running(job("a")), expectedVersion: 0 }], results: [result("ghost")] },
        "JOB_NOT_FOUND",
      ],
      ["version not increased", { insert: [job("new1")], update: [{ job: job("a"), expectedVersion: 0 }] }, "VALIDATION"],
      ["createdAt changed", { update: [{ job: { ...running(job("a")), createdAt: 9 }, expectedVersion: 0 }] }, "VALIDATION"],
      ["not a batch", null as never, "VALIDATION"],
    ];
    for (const [name, batch, code] of cases) {
      const e = await rejection(store.commit(batch));
      expect(e.code, name).toBe(code);
    }
    expect(await store.getJob("new1")).toBeUndefined();
    expect(await store.getJob("a")).toEqual(before.a);
    expect(await store.countByStatus()).toEqual(before.counts);
  });

  it("names the stored version in StaleVersionError", async () => {
    const store = await openStore(tmp.file("a.db"));
    await store.commit({ insert: [job("a")] });
    await store.commit({ update: [{ job: running(job("a")), expectedVersion: 0 }] });
    const e = (await rejection(store.commit({ update: [{ job: running(job("a")), expectedVersion: 0 }] }))) as Error & {
      actualVersion?: number;
    };
    expect(e).toMatchObject({ name: "StaleVersionError", jobId: "a", expectedVersion: 0, actualVersion: 1 });
  });

  it("accepts a result for a job inserted in the same batch", async () => {
    const store = await openStore(tmp.file("a.db"));
    await store.commit({ insert: [job("a")], results: [result("a")] });
    expect((await store.getResult("a"))?.jobId).toBe("a");
  });

  it("judges group and limits by the record when the flow columns are stale (a row a migration did not backfill), and repairs them", async () => {
    const path = tmp.file("a.db");
    const store = await openStore(path);
    const a = { ...job("a"), group: "t1", limits: [{ key: "api", units: 3 }] };
    const b = { ...job("b"), group: "t1", limits: [{ key: "api", units: 3 }] };
    await store.commit({ insert: [a, b] });
    // What 0011 leaves for a job that was finished then (its limits not backfilled), and worse.
    const raw = new Database(path);
    raw.prepare("UPDATE jobs SET flow_group = NULL, flow_limits = NULL WHERE id IN ('a', 'b')").run();
    // A change the record refuses is refused, whatever the columns say; nothing is written.
    const e = await rejection(
      store.commit({
        update: [
          { job: running(a), expectedVersion: 0 },
          { job: { ...running(b), limits: [{ key: "api", units: 4 }] }, expectedVersion: 0 },
        ],
      }),
    );
    expect(e).toMatchObject({ code: "VALIDATION" });
    expect(String(e.message)).toMatch(/job b: limits are immutable/);
    expect((await store.getJob("a"))?.status).toBe("pending");
    // An update that keeps them lands, and the columns are the record's again.
    await store.commit({ update: [{ job: running(a), expectedVersion: 0 }] });
    expect((await store.getJob("a"))?.status).toBe("running");
    expect(raw.prepare("SELECT flow_group, flow_limits FROM jobs WHERE id = 'a'").get()).toEqual({
      flow_group: "t1",
      flow_limits: JSON.stringify(a.limits),
    });
    raw.close();
  });

  it("keeps the indexed columns in step with the record, aging_key included", async () => {
    const path = tmp.file("a.db");
    const store = await openStore(path, { agingRate: 0.5 });
    const a = { ...job("a", 1_000, { priority: 7 }), runAt: 4_000 };
    await store.commit({ insert: [a] });
    await store.commit({ update: [{ job: { ...running(a), runAt: 10_000 }, expectedVersion: 0 }] });
    const raw = new Database(path, { readonly: true });
    const row = raw.prepare("SELECT status, priority, run_at, created_at, version, aging_key FROM jobs WHERE id = 'a'").get();
    raw.close();
    expect(row).toEqual({ status: "running", priority: 7, run_at: 10_000, created_at: 1_000, version: 1, aging_key: 7 - 0.5 * 10 });
  });
});

describe("listJobs and countByStatus", () => {
  async function seeded(): Promise<{ store: SqliteJobStore; jobs: Job[] }> {
    const store = await openStore(tmp.file("l.db"));
    // Equal createdAt values on purpose: the id breaks ties.
    const jobs = Array.from({ length: 25 }, (_, i) => job(`j${String(i % 7).padStart(2, "0")}-${i}`, 1_000 + (i % 4)));
    await store.commit({ insert: jobs });
    await store.commit({ update: jobs.filter((_, i) => i % 3 === 0).map((j) => ({ job: running(j), expectedVersion: 0 })) });
    return { store, jobs };
  }
  const key = (j: Job): string => `${String(j.createdAt).padStart(6, "0")}|${j.id}`;

  it("pages through every job once, in (createdAt, id) order both ways, cursor absent on the last page", async () => {
    const { store, jobs } = await seeded();
    for (const order of ["asc", "desc"] as const) {
      const seen: Job[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await store.listJobs({ limit: 4, order, cursor });
        seen.push(...page.jobs);
        cursor = page.cursor;
        pages++;
      } while (cursor !== undefined);
      const expected = jobs.map(key).sort();
      if (order === "desc") expected.reverse();
      expect(seen.map(key)).toEqual(expected);
      expect(pages).toBe(Math.ceil(jobs.length / 4));
    }
  });

  it("filters by one status or several", async () => {
    const { store } = await seeded();
    const runningPage = await store.listJobs({ status: "running", limit: 100 });
    expect(runningPage.jobs).toHaveLength(9);
    expect(runningPage.jobs.every((j) => j.status === "running")).toBe(true);
    expect((await store.listJobs({ status: ["running", "pending"] })).jobs).toHaveLength(25);
    expect((await store.listJobs({ status: ["completed"] })).jobs).toEqual([]);
    expect(await store.countByStatus()).toEqual({
      created: 0,
      waiting: 0,
      pending: 16,
      running: 9,
      retrying: 0,
      completed: 0,
      failed: 0,
      cancelled: 0,
    });
  });

  it("rejects bad limits, statuses, orders and cursors with ValidationError", async () => {
    const { store } = await seeded();
    const asc = (await store.listJobs({ limit: 2 })).cursor!;
    for (const q of [
      { limit: 0 },
      { limit: 10_001 },
      { limit: 1.5 },
      { status: "nope" },
      { order: "sideways" },
      { cursor: "garbage" },
      { cursor: asc.slice(0, -3) },
      { cursor: asc, order: "desc" },
    ]) {
      expect((await rejection(store.listJobs(q as never))).code, JSON.stringify(q)).toBe("VALIDATION");
    }
    expect((await store.listJobs({ limit: 10_000 })).jobs).toHaveLength(25);
  });
});

describe("an update that changes a job's mode or handler", () => {
  it("is written, listed under the new handler, and still checks the version", async () => {
    const path = tmp.file("moved.db");
    const store = await openStore(path);
    const a = job("a");
    await store.commit({ insert: [a] });
    const moved: Job = { ...a, handler: "other", mode: "thread", version: a.version + 1 };
    await store.commit({ update: [{ job: moved, expectedVersion: a.version }] });
    expect(await store.getJob("a")).toEqual(moved);
    expect((await store.queryJobs({ handler: "other", mode: "thread" })).jobs).toEqual([moved]);
    expect((await store.queryJobs({ handler: a.handler })).jobs).toEqual([]);
    const stale = await rejection(
      store.commit({ update: [{ job: { ...moved, handler: "third", version: 9 }, expectedVersion: a.version }] }),
    );
    expect(stale.code).toBe("STALE_VERSION");
    expect(await store.getJob("a")).toEqual(moved);
  });
});

describe("lifecycle", () => {
  it("keeps everything across close and reopen", async () => {
    const path = tmp.file("r.db");
    const first = await SqliteJobStore.open({ path });
    await first.commit({ insert: [job("a"), job("b")], results: [result("b")] });
    await first.close();
    const second = await openStore(path);
    expect(await second.getJob("a")).toEqual(job("a"));
    expect(await second.getResult("b")).toEqual(result("b"));
    expect((await second.countByStatus()).pending).toBe(2);
  });

  it("rejects every operation after close with StoreClosedError; close is idempotent", async () => {
    const store = await SqliteJobStore.open({ path: tmp.file("c.db") });
    await store.close();
    await store.close();
    for (const op of [
      () => store.commit({ insert: [job("a")] }),
      () => store.getJob("a"),
      () => store.getResult("a"),
      () => store.listJobs(),
      () => store.countByStatus(),
    ]) {
      expect((await rejection(op())).code).toBe("STORE_CLOSED");
    }
  });

  it("shares one file between two instances: commits are visible, CAS conflicts are StaleVersionError", async () => {
    const path = tmp.file("shared.db");
    const one = await openStore(path);
    const two = await openStore(path);
    await one.commit({ insert: [job("a")] });
    expect(await two.getJob("a")).toEqual(job("a"));
    await two.commit({ update: [{ job: running(job("a")), expectedVersion: 0 }] });
    const e = await rejection(one.commit({ update: [{ job: running(job("a"), 5), expectedVersion: 0 }] }));
    expect(e).toMatchObject({ name: "StaleVersionError", jobId: "a" });
    expect((await one.getJob("a"))?.updatedAt).toBe(running(job("a")).updatedAt);
  });
});

describe("corrupt records", () => {
  async function withCorruptRow(options?: Parameters<typeof SqliteJobStore.open>[1]) {
    const path = tmp.file("corrupt.db");
    const setup = await SqliteJobStore.open({ path });
    await setup.commit({ insert: [job("a", 1), job("bad", 2), job("c", 3), job("schema", 4)], results: [result("a")] });
    await setup.close();
    const raw = new Database(path);
    raw.prepare("UPDATE jobs SET data = ? WHERE id = 'bad'").run("{not json");
    raw.prepare("UPDATE jobs SET data = ? WHERE id = 'schema'").run(JSON.stringify({ ...job("schema", 4), priority: 99 }));
    raw.prepare("UPDATE results SET data = ? WHERE job_id = 'a'").run(JSON.stringify({ jobId: "a", status: "weird" }));
    raw.close();
    return openStore(path, options);
  }

  it("getJob and getResult throw CorruptRecordError naming the job", async () => {
    const store = await withCorruptRow();
    const bad = await rejection(store.getJob("bad"));
    expect(bad).toBeInstanceOf(CorruptRecordError);
    expect(bad).toMatchObject({ code: "CORRUPT_RECORD", jobId: "bad" });
    expect(bad.message).toMatch(/not JSON/);
    const schema = await rejection(store.getJob("schema"));
    expect(schema).toMatchObject({ code: "CORRUPT_RECORD", jobId: "schema" });
    expect(schema.message).toMatch(/priority/);
    expect(await rejection(store.getResult("a"))).toMatchObject({ code: "CORRUPT_RECORD", jobId: "a" });
    expect(await store.getJob("c")).toEqual(job("c", 3));
  });

  it("listJobs returns the other jobs and reports the corrupt ones in corruptRecords", async () => {
    const store = await withCorruptRow();
    const page = await store.listJobs({ limit: 2 });
    expect(page.jobs.map((j) => j.id)).toEqual(["a"]);
    const rest = await store.listJobs({ limit: 10, cursor: page.cursor });
    expect(rest.jobs.map((j) => j.id)).toEqual(["c"]);
    expect(rest.cursor).toBeUndefined();
    expect(store.corruptRecords.map((e) => e.jobId).sort()).toEqual(["bad", "schema"]);
    // Reported once per job, however often it is listed.
    await store.listJobs();
    expect(store.corruptRecords).toHaveLength(2);
    // Corrupt rows still exist and are counted under their stored status.
    expect((await store.countByStatus()).pending).toBe(4);
  });

  it("calls onCorruptRecord instead of collecting when given", async () => {
    const seen: string[] = [];
    const store = await withCorruptRow({ onCorruptRecord: (e) => seen.push(e.jobId) });
    expect((await store.listJobs()).jobs.map((j) => j.id)).toEqual(["a", "c"]);
    expect(seen).toEqual(["bad", "schema"]);
    expect(store.corruptRecords).toEqual([]);
  });

  it('readValidation: "shape" returns the same jobs and still catches corrupt rows with zod\'s message', async () => {
    const store = await withCorruptRow({ readValidation: "shape" });
    expect((await store.listJobs()).jobs).toEqual([job("a", 1), job("c", 3)]);
    expect((await rejection(store.getJob("schema"))).message).toMatch(/priority/);
    expect((await rejection(store.getJob("bad"))).message).toMatch(/not JSON/);
    expect(store.corruptRecords.map((e) => e.jobId).sort()).toEqual(["bad", "schema"]);
    const e = await rejection(SqliteJobStore.open({ path: ":memory:" }, { readValidation: "fast" as never }));
    expect(e.code).toBe("VALIDATION");
  });

  it("treats a record that disagrees with its indexed columns as corrupt", async () => {
    const path = tmp.file("d.db");
    const setup = await SqliteJobStore.open({ path });
    await setup.commit({ insert: [job("a")] });
    await setup.close();
    const raw = new Database(path);
    raw.prepare("UPDATE jobs SET status = 'running' WHERE id = 'a'").run();
    raw.close();
    const store = await openStore(path);
    expect(await rejection(store.getJob("a"))).toMatchObject({ code: "CORRUPT_RECORD", jobId: "a" });
  });
});

describe("foreign and incompatible files are refused and left byte-for-byte unchanged", () => {
  async function expectRefused(path: string, message: RegExp): Promise<void> {
    const before = hashFile(path);
    const e = await rejection(SqliteJobStore.open({ path }));
    expect(e).toMatchObject({ name: "IncompatibleStoreError", code: "INCOMPATIBLE_STORE" });
    expect(e.message).toMatch(message);
    expect(hashFile(path)).toBe(before);
    expect(existsSync(`${path}-wal`)).toBe(false);
    expect(existsSync(`${path}-shm`)).toBe(false);
  }

  it("a SQLite database of another application", async () => {
    const path = tmp.file("other.db");
    const raw = new Database(path);
    raw.exec("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users (name) VALUES ('ada');");
    raw.close();
    await expectRefused(path, /not a Pyrexis store.*users/);
  });

  it("a file that is not SQLite at all", async () => {
    const path = tmp.file("garbage.db");
    writeFileSync(path, Buffer.from("this is definitely not a database file, just some bytes ".repeat(200)));
    await expectRefused(path, /not a SQLite database/);
  });

  it.each([
    ["1 byte", Buffer.from([0x07])],
    ["15 bytes of the header", Buffer.from("SQLite format 3", "latin1")],
    ["100 zero bytes", Buffer.alloc(100)],
  ])("a small file SQLite would read as empty (%s)", async (_name, bytes) => {
    const path = tmp.file("small.db");
    writeFileSync(path, bytes);
    await expectRefused(path, /not a SQLite database \(no SQLite header\)/);
  });

  it("a store made by the first schema version is migrated on open: the unused aging index goes, the data stays", async () => {
    const path = tmp.file("v1.db");
    await legacyStore(path, "0001_jobs_and_results", [job("kept")]);
    const store = await openStore(path);
    expect(await store.getJob("kept")).toEqual(job("kept"));
    const check = new Database(path, { readonly: true });
    const indexes = (
      check.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'jobs' AND name NOT LIKE 'sqlite_%'").all() as {
        name: string;
      }[]
    )
      .map((row) => row.name)
      .sort();
    const migrations = check.prepare("SELECT name FROM pyrexis_migration ORDER BY name").all();
    check.close();
    expect(indexes).toEqual([
      "jobs_claim",
      "jobs_claim_group",
      "jobs_created_id",
      "jobs_finished",
      "jobs_handler_created_id",
      "jobs_lease",
      "jobs_status_handler_created_id",
    ]);
    expect(migrations).toEqual([
      { name: "0001_jobs_and_results" },
      { name: "0002_drop_unused_aging_index" },
      { name: "0003_claims" },
      { name: "0004_query_indexes" },
      { name: "0005_prune" },
      { name: "0006_schedules" },
      { name: "0007_dependencies" },
      { name: "0008_one_status_index" },
      { name: "0009_flow" },
      { name: "0010_flow_retention" },
      { name: "0011_flow_limits" },
      { name: "0012_flow_window_per_claim" },
    ]);
  });

  it("a store at migration 0007 loses its (status, created_at, id) index on open and lists, counts and updates as before", async () => {
    const path = tmp.file("v7.db");
    await legacyStore(path, "0007_dependencies", []);
    // Rows as 0007's store wrote them: every column, several statuses and handlers.
    const rows: Job[] = Array.from({ length: 30 }, (_, i) => ({
      ...job(`j${String(i).padStart(2, "0")}`, 1_000 + (i % 11)),
      handler: `h${i % 4}`,
      status: (["pending", "failed", "completed"] as const)[i % 3]!,
    }));
    const raw = new Database(path);
    const insert = raw.prepare(
      "INSERT INTO jobs (id, status, priority, run_at, created_at, version, aging_key, data, mode, handler) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    );
    for (const j of rows) insert.run(j.id, j.status, j.priority, j.runAt, j.createdAt, j.version, 0, JSON.stringify(j), j.mode, j.handler);
    raw.close();

    const store = await openStore(path);
    const check = new Database(path, { readonly: true });
    const indexes = check.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name = 'jobs_status_created_id'").all();
    check.close();
    expect(indexes).toEqual([]);
    const byOrder = (a: Job, b: Job): number => b.createdAt - a.createdAt || (a.id < b.id ? 1 : -1);
    const failed = rows.filter((j) => j.status === "failed").sort(byOrder);
    expect((await store.listJobs({ status: "failed", order: "desc", limit: 100 })).jobs).toEqual(failed);
    expect((await store.queryJobs({ status: "failed", handler: "h1", order: "desc" })).jobs).toEqual(
      failed.filter((j) => j.handler === "h1"),
    );
    expect(await store.countByStatus()).toMatchObject({ pending: 10, failed: 10, completed: 10 });
    expect((await store.listJobs({ status: "running" })).jobs).toEqual([]);
    const first = rows[0]!;
    await store.commit({ update: [{ job: running(first), expectedVersion: first.version }] });
    expect((await store.listJobs({ status: "running" })).jobs.map((j) => j.id)).toEqual([first.id]);
  });

  it("a store written by a newer schema version", async () => {
    const path = tmp.file("newer.db");
    const store = await SqliteJobStore.open({ path });
    await store.commit({ insert: [job("a")] });
    await store.close();
    const raw = new Database(path);
    raw.prepare("INSERT INTO pyrexis_migration (name, timestamp) VALUES (?, ?)").run("9999_from_the_future", new Date().toISOString());
    raw.pragma("journal_mode = DELETE");
    raw.close();
    await expectRefused(path, /newer schema.*9999_from_the_future/);
  });

  it("a given connection to a foreign database is refused before any pragma is written", async () => {
    const path = tmp.file("other2.db");
    const setup = new Database(path);
    setup.exec("CREATE TABLE t (x)");
    setup.close();
    const before = hashFile(path);
    const e = await rejection(SqliteJobStore.open({ database: new Database(path) }));
    expect(e.code).toBe("INCOMPATIBLE_STORE");
    expect(hashFile(path)).toBe(before);
  });

  it("an empty SQLite file is adopted as a new store", async () => {
    const path = tmp.file("empty.db");
    new Database(path).close();
    const store = await openStore(path);
    await store.commit({ insert: [job("a")] });
    expect(await store.getJob("a")).toEqual(job("a"));
  });
});
