// Scenario 5 — bad input at every door: fuzzed job specs into submitJob/submitJobs, fuzzed
// argument lists into `pyrexis submit`, corrupt rows and garbage files into the SQLite store,
// and an engine started on a store with corrupt rows. Every bad input gets a typed
// PyrexisError; nothing is written; good input is accepted; the rest of the store is untouched.
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Engine } from "@pyrexis/engine";
import { AsyncExecutor, ExecutorRouter, type Executor } from "@pyrexis/executors";
import { CorruptRecordError, isPyrexisError, parseJobSpec, type JobSpecInput } from "@pyrexis/models";
import { SqliteJobStore } from "@pyrexis/storage-sqlite";
import { tempDir } from "@pyrexis/test-utils";
import { CHAOS, fixture, recordFigures, seedFor } from "./helpers.js";

const HANDLERS = ["echo", "other"];
const MODES = ["async", "custom"];
const RUNS = CHAOS ? 3000 : 300;

function rows(db: Database.Database, table: "jobs" | "results"): unknown[] {
  return db.prepare(`SELECT * FROM ${table} ORDER BY rowid`).all();
}

/** Specs near the valid ones: each field sometimes right, sometimes subtly or wildly wrong. */
const nearSpec: fc.Arbitrary<unknown> = fc.record(
  {
    id: fc.oneof(fc.constantFrom("dup-1", "", "x".repeat(257), "ok\u0007id"), fc.string({ maxLength: 12 }), fc.integer()),
    handler: fc.oneof(fc.constantFrom("echo", "other", "missing", ""), fc.anything()),
    payload: fc.oneof(
      fc.jsonValue(),
      fc.anything(),
      fc.constantFrom(Number.NaN, 10n, () => 1, new Date(0), Symbol("s")),
    ),
    priority: fc.oneof(fc.integer({ min: -2, max: 12 }), fc.double(), fc.anything()),
    mode: fc.oneof(fc.constantFrom("async", "custom", "thread", "nope", ""), fc.anything()),
    maxAttempts: fc.oneof(fc.integer({ min: -1, max: 1001 }), fc.anything()),
    backoff: fc.oneof(
      fc.record(
        { baseMs: fc.integer({ min: -5, max: 100 }), maxMs: fc.integer({ min: 0, max: 100 }), jitter: fc.double({ min: -1, max: 2 }) },
        { requiredKeys: [] },
      ),
      fc.anything(),
    ),
    timeoutMs: fc.oneof(fc.integer({ min: -1, max: 5000 }), fc.anything()),
    runAt: fc.oneof(
      fc.integer({ min: -1, max: 2e12 }),
      fc.date({ noInvalidDate: false }),
      fc.string(),
      fc.constant("2030-01-01T00:00:00Z"),
    ),
    delayMs: fc.oneof(fc.integer({ min: -1, max: 10_000 }), fc.anything()),
    extra: fc.anything(),
  },
  { requiredKeys: [] },
);

const validSpec: fc.Arbitrary<JobSpecInput> = fc.record(
  {
    handler: fc.constantFrom(...HANDLERS),
    payload: fc.jsonValue({ maxDepth: 3 }),
    priority: fc.integer({ min: 0, max: 10 }),
    mode: fc.constantFrom(...MODES),
    maxAttempts: fc.integer({ min: 1, max: 10 }),
    timeoutMs: fc.integer({ min: 1, max: 60_000 }),
    delayMs: fc.integer({ min: 0, max: 60_000 }),
  },
  { requiredKeys: ["handler"] },
) as fc.Arbitrary<JobSpecInput>;

/** What submitJob must do with `spec`, by the models' own parser (the single source of truth). */
function expectedOutcome(spec: unknown, known: ReadonlySet<string>): string {
  let parsed;
  try {
    parsed = parseJobSpec(spec);
  } catch {
    return "VALIDATION";
  }
  if (!HANDLERS.includes(parsed.handler)) return "HANDLER_NOT_FOUND";
  if (!MODES.includes(parsed.mode)) return "UNKNOWN_MODE";
  if (parsed.id !== undefined && known.has(parsed.id)) return "DUPLICATE_JOB";
  return "ok";
}

describe("fuzzed job specs into submitJob / submitJobs", () => {
  const { dir, remove: cleanup } = tempDir("pyrexis-rel-");
  let engine: Engine;
  const known = new Set<string>();

  beforeAll(async () => {
    const never: Executor = { run: () => new Promise(() => {}), close: async () => {} };
    engine = new Engine({
      store: await SqliteJobStore.open({ path: join(dir, "fuzz.db") }),
      executors: new ExecutorRouter({
        async: new AsyncExecutor({ handlers: { echo: (p: unknown) => p, other: () => null } }),
        custom: never,
      }),
      handlerNames: HANDLERS,
    });
    // No runLoop: accepted jobs stay pending, so counts are exact.
    known.add((await engine.submitJob({ id: "dup-1", handler: "echo" })).id);
  });
  afterAll(async () => {
    await engine.shutdown({ graceMs: 0 });
    cleanup();
  });

  async function total(): Promise<number> {
    return Object.values(await engine.countByStatus()).reduce((a, b) => a + b, 0);
  }

  it("each spec is accepted exactly when valid, else rejected with the right typed error and nothing written", async () => {
    const seed = seedFor("fuzz-submitJob", 0xbad1);
    const tally: Record<string, number> = {};
    // Valid specs with exactly one door wrong: unknown handler, unknown mode, taken id.
    const oneWrong = fc
      .tuple(validSpec, fc.constantFrom("handler", "mode", "id"))
      .map(([spec, door]) =>
        door === "handler" ? { ...spec, handler: "missing" } : door === "mode" ? { ...spec, mode: "nope" } : { ...spec, id: "dup-1" },
      );
    const anySpec = fc.oneof(
      { arbitrary: fc.anything(), weight: 1 },
      { arbitrary: nearSpec, weight: 4 },
      { arbitrary: oneWrong, weight: 2 },
      { arbitrary: validSpec, weight: 2 },
    );
    await fc.assert(
      fc.asyncProperty(anySpec, async (spec) => {
        const expected = expectedOutcome(spec, known);
        const before = await total();
        const got = await engine.submitJob(spec as JobSpecInput).then(
          (job) => ({ job }),
          (error: unknown) => ({ error }),
        );
        let outcome: string;
        if ("job" in got) {
          outcome = "ok";
          known.add(got.job.id);
          // Compared as JSON: the store keeps JSON, where -0 is 0.
          const json = (v: unknown): unknown => JSON.parse(JSON.stringify(v));
          expect(json(await engine.store.getJob(got.job.id))).toEqual(json(got.job));
          expect(await total()).toBe(before + 1);
        } else {
          expect(isPyrexisError(got.error), `not a typed error: ${String(got.error)}`).toBe(true);
          outcome = (got.error as { code: string }).code;
          expect(await total(), "nothing written").toBe(before);
        }
        expect(outcome).toBe(expected);
        tally[outcome] = (tally[outcome] ?? 0) + 1;
      }),
      { seed, numRuns: RUNS },
    );
    recordFigures("fuzz-submitJob", { seed, runs: RUNS, outcomes: tally });
    for (const code of ["ok", "VALIDATION", "HANDLER_NOT_FOUND", "UNKNOWN_MODE", "DUPLICATE_JOB"])
      expect(tally[code], code).toBeGreaterThan(0);
  });

  it("a batch with one bad spec writes nothing (all or nothing)", async () => {
    const seed = seedFor("fuzz-submitJobs", 0xbad2);
    await fc.assert(
      fc.asyncProperty(fc.array(validSpec, { minLength: 1, maxLength: 8 }), nearSpec, fc.nat(), async (good, bad, at) => {
        if (expectedOutcome(bad, known) === "ok") return;
        const batch: unknown[] = [...good];
        batch.splice(at % (good.length + 1), 0, bad);
        const before = await total();
        const error = await engine.submitJobs(batch as JobSpecInput[]).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(isPyrexisError(error), String(error)).toBe(true);
        expect(await total()).toBe(before);
      }),
      { seed, numRuns: Math.floor(RUNS / 3) },
    );
  });
});

describe("corrupt rows and garbage files in the SQLite store", () => {
  it("a corrupt row is a CorruptRecordError naming its job; every other row reads back and nothing changes", async () => {
    const seed = seedFor("fuzz-corrupt-rows", 0xbad3);
    const { dir, remove: cleanup } = tempDir("pyrexis-rel-");
    try {
      const path = join(dir, "rows.db");
      const store = await SqliteJobStore.open({ path });
      const engine = new Engine({
        store,
        executors: new ExecutorRouter({ async: new AsyncExecutor({ handlers: { echo: (p: unknown) => p } }) }),
      });
      for (let i = 0; i < 10; i++) await engine.submitJob({ id: `j${i}`, handler: "echo", payload: { i } });
      for (let i = 0; i < 5; i++) await engine.runNext();
      await engine.shutdown();
      const raw = new Database(path);
      const pristine = rows(raw, "jobs") as { id: string; data: string }[];
      const pristineResults = rows(raw, "results");
      const target = pristine[7]!;
      const original = JSON.parse(target.data) as Record<string, unknown>;
      let corrupt = 0;
      let readable = 0;
      // Garbage text, and valid JSON with one field replaced by an arbitrary JSON value.
      const data = fc.oneof(
        fc.string({ unit: "binary", maxLength: 64 }),
        fc
          .tuple(fc.constantFrom(...Object.keys(original), "extra"), fc.jsonValue())
          .map(([k, v]) => JSON.stringify({ ...original, [k]: v })),
      );
      await fc.assert(
        fc.asyncProperty(data, async (text) => {
          raw.prepare("UPDATE jobs SET data = ? WHERE id = ?").run(text, target.id);
          const reader = await SqliteJobStore.open({ path });
          try {
            const got = await reader.getJob(target.id).then(
              (job) => ({ job }),
              (error: unknown) => ({ error }),
            );
            if ("error" in got) {
              expect(got.error).toBeInstanceOf(CorruptRecordError);
              expect((got.error as CorruptRecordError).jobId).toBe(target.id);
              corrupt++;
            } else {
              // Only a record that really is valid may come back, exactly as stored.
              expect(got.job).toEqual(JSON.parse(text));
              readable++;
            }
            const { jobs } = await reader.listJobs({ limit: 100 });
            expect(jobs.map((j) => j.id)).toEqual(pristine.map((r) => r.id).filter((id) => id !== target.id || "job" in got));
          } finally {
            await reader.close();
          }
          expect(rows(raw, "jobs").filter((r) => (r as { id: string }).id !== target.id)).toEqual(
            pristine.filter((r) => r.id !== target.id),
          );
          expect(rows(raw, "results")).toEqual(pristineResults);
        }),
        { seed, numRuns: CHAOS ? 500 : 60 },
      );
      // A corrupt result row: typed, naming the job.
      raw.prepare("UPDATE jobs SET data = ? WHERE id = ?").run(target.data, target.id);
      raw.prepare("UPDATE results SET data = '{oops' WHERE job_id = (SELECT job_id FROM results LIMIT 1)").run();
      const badResult = (raw.prepare("SELECT job_id FROM results LIMIT 1").get() as { job_id: string }).job_id;
      const reader = await SqliteJobStore.open({ path });
      const error = await reader.getResult(badResult).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(CorruptRecordError);
      expect((error as CorruptRecordError).jobId).toBe(badResult);
      await reader.close();
      raw.close();
      recordFigures("fuzz-corrupt-rows", { seed, corrupt, readable });
    } finally {
      cleanup();
    }
  });

  // Found by this suite: waitForResult used to hang (and leak an unhandled rejection) when the
  // follow-up store.getJob threw inside the async onFulfilled of .then(); fixed in 957564a. Run in
  // its own process so a regression's unhandled rejection cannot leak into the test runner.
  it("waitForResult on a job whose row is corrupt rejects with CorruptRecordError (no hang, no unhandled rejection)", async () => {
    const { dir, remove: cleanup } = tempDir("pyrexis-rel-");
    try {
      const path = join(dir, "wait.db");
      const engine = new Engine({
        store: await SqliteJobStore.open({ path }),
        executors: new ExecutorRouter({ async: new AsyncExecutor({ handlers: { echo: (p: unknown) => p } }) }),
      });
      await engine.submitJob({ id: "w1", handler: "echo" });
      await engine.shutdown();
      const raw = new Database(path);
      raw.prepare("UPDATE jobs SET data = '{not json' WHERE id = 'w1'").run();
      raw.close();
      const r = spawnSync(process.execPath, [fixture("wait-corrupt.mjs"), path, "w1"], { encoding: "utf8", timeout: 30_000 });
      const report = JSON.parse(r.stdout.trim()) as { outcome: string; unhandled: string[] };
      console.log(`[reliability] waitForResult on a corrupt row: ${JSON.stringify(report)}`);
      expect(report).toEqual({ outcome: "CORRUPT_RECORD", unhandled: [] });
    } finally {
      cleanup();
    }
  });

  // Found by this suite: SQLite reads a 1-byte file as an empty database, so open() used to turn
  // it into a Pyrexis store; fixed in 957564a (a non-empty file without the SQLite header is refused).
  it("a 1-byte file is refused with IncompatibleStoreError and left untouched", async () => {
    const { dir, remove: cleanup } = tempDir("pyrexis-rel-");
    try {
      const path = join(dir, "one-byte.db");
      writeFileSync(path, Buffer.from([0x07]));
      const error = await SqliteJobStore.open({ path }).then(
        async (s) => {
          await s.close();
          return undefined;
        },
        (e: unknown) => e,
      );
      expect(isPyrexisError(error, "INCOMPATIBLE_STORE"), String(error)).toBe(true);
      expect(readFileSync(path)).toEqual(Buffer.from([0x07]));
    } finally {
      cleanup();
    }
  });

  it("garbage files and foreign databases are refused with IncompatibleStoreError and left byte-for-byte untouched", async () => {
    const seed = seedFor("fuzz-garbage-files", 0xbad4);
    const { dir, remove: cleanup } = tempDir("pyrexis-rel-");
    try {
      let n = 0;
      const header = Buffer.from("SQLite format 3\0", "latin1");
      const garbage = fc.oneof(
        fc.uint8Array({ minLength: 1, maxLength: 4096 }).map((a) => Buffer.from(a)),
        fc.uint8Array({ minLength: 0, maxLength: 4096 }).map((a) => Buffer.concat([header, Buffer.from(a)])),
      );
      await fc.assert(
        fc.asyncProperty(garbage, async (bytes) => {
          const path = join(dir, `g${n++}.db`);
          writeFileSync(path, bytes);
          const error = await SqliteJobStore.open({ path }).then(
            async (s) => {
              await s.close();
              return undefined;
            },
            (e: unknown) => e,
          );
          expect(isPyrexisError(error, "INCOMPATIBLE_STORE"), String(error)).toBe(true);
          expect(readFileSync(path).equals(bytes), "file untouched").toBe(true);
          expect(existsSync(`${path}-wal`), "no WAL created").toBe(false);
        }),
        { seed, numRuns: CHAOS ? 300 : 40 },
      );
      const foreign = join(dir, "foreign.db");
      const db = new Database(foreign);
      db.exec("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users (name) VALUES ('ada')");
      db.close();
      const before = readFileSync(foreign);
      const error = await SqliteJobStore.open({ path: foreign }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isPyrexisError(error, "INCOMPATIBLE_STORE"), String(error)).toBe(true);
      expect(readFileSync(foreign).equals(before)).toBe(true);
    } finally {
      cleanup();
    }
  });

  it("an engine started on a store with corrupt rows recovers every other job and reports the bad ones typed", async () => {
    const { dir, remove: cleanup } = tempDir("pyrexis-rel-");
    try {
      const path = join(dir, "recover.db");
      const handlers = { echo: (p: unknown) => p };
      const first = new Engine({
        store: await SqliteJobStore.open({ path }),
        executors: new ExecutorRouter({ async: new AsyncExecutor({ handlers }) }),
      });
      const ids: string[] = [];
      for (let i = 0; i < 50; i++)
        ids.push((await first.submitJob({ id: `r${String(i).padStart(2, "0")}`, handler: "echo", payload: { i } })).id);
      // Leave one of them "running", as a crash would.
      await first.shutdown();
      const raw = new Database(path);
      const running = JSON.parse((raw.prepare("SELECT data FROM jobs WHERE id = 'r03'").get() as { data: string }).data) as Record<
        string,
        unknown
      >;
      raw
        .prepare("UPDATE jobs SET status = 'running', version = version + 1, data = ? WHERE id = 'r03'")
        .run(JSON.stringify({ ...running, status: "running", attempts: 1, version: (running.version as number) + 1 }));
      raw.prepare("UPDATE jobs SET data = '{not json' WHERE id = 'r10'").run();
      raw.prepare("UPDATE jobs SET data = json_set(data, '$.priority', 99) WHERE id = 'r20'").run();
      raw.prepare("UPDATE jobs SET status = 'running' WHERE id = 'r30'").run();
      const badRows = raw.prepare("SELECT * FROM jobs WHERE id IN ('r10','r20','r30') ORDER BY id").all();
      const corruptIds = ["r10", "r20", "r30"];

      const reported: string[] = [];
      const store = await SqliteJobStore.open({ path }, { onCorruptRecord: (e) => reported.push(e.jobId) });
      const engine = new Engine({ store, executors: new ExecutorRouter({ async: new AsyncExecutor({ handlers }) }) });
      const engineErrors: unknown[] = [];
      engine.on("engine:error", ({ error }) => engineErrors.push(error));
      const loop = engine.runLoop();
      const good = ids.filter((id) => !corruptIds.includes(id));
      for (const id of good) expect((await engine.waitForResult(id, { signal: AbortSignal.timeout(30_000) })).status, id).toBe("completed");
      expect(reported.sort()).toEqual(corruptIds);
      for (const id of corruptIds) {
        const w = await engine.waitForResult(id, { signal: AbortSignal.timeout(10_000) }).then(
          () => undefined,
          (err: unknown) => err,
        );
        expect(w, `waitForResult(${id})`).toBeInstanceOf(CorruptRecordError);
        expect((w as CorruptRecordError).jobId).toBe(id);
        const c = await engine.cancelJob(id).then(
          () => undefined,
          (err: unknown) => err,
        );
        expect(isPyrexisError(c, "CORRUPT_RECORD"), `cancelJob(${id}): ${String(c)}`).toBe(true);
      }
      await engine.shutdown();
      await loop;
      // The corrupt rows are still there, untouched, for an operator to repair.
      expect(raw.prepare("SELECT * FROM jobs WHERE id IN ('r10','r20','r30') ORDER BY id").all()).toEqual(badRows);
      raw.close();
      recordFigures("corrupt-row-recovery", {
        jobs: ids.length,
        corrupt: corruptIds.length,
        recovered: good.length,
        engineErrors: engineErrors.length,
      });
    } finally {
      cleanup();
    }
  });
});

const CLI_BIN = fileURLToPath(new URL("../../packages/cli/dist/bin.js", import.meta.url));

describe("fuzzed arguments into `pyrexis submit`", () => {
  // The CLI is another package; it is exercised once it is built.
  it.skipIf(!existsSync(CLI_BIN))(
    "exits 0 (durably written) or 1/2 with one typed error line and nothing written; never crashes",
    async () => {
      const seed = seedFor("fuzz-cli-submit", 0xbad5);
      const { dir, remove: cleanup } = tempDir("pyrexis-rel-");
      try {
        const db = join(dir, "cli.db");
        const count = (): number => {
          if (!existsSync(db)) return 0;
          const raw = new Database(db, { readonly: true });
          try {
            return (raw.prepare("SELECT count(*) AS n FROM jobs").get() as { n: number }).n;
          } finally {
            raw.close();
          }
        };
        const text = fc.string({ unit: "grapheme", maxLength: 12 }).filter((s) => !s.includes("\0"));
        const num = fc.oneof(
          fc.integer({ min: -3, max: 2_000_000 }).map(String),
          fc.constantFrom("", "abc", "5.5", "1e3", "0x10", "NaN", "-0", "11"),
          text,
        );
        const flag = fc.oneof(
          fc.tuple(fc.constantFrom("--priority", "--max-attempts", "--delay", "--timeout"), num),
          fc.tuple(fc.constant("--mode"), fc.oneof(fc.constantFrom("async", "thread", "process", "gpu", ""), text)),
          fc.tuple(fc.constant("--id"), fc.oneof(text, fc.constantFrom("same-id", "", "a\u0001b"))),
          fc.tuple(fc.constantFrom("--bogus", "--json", "-x", "--file"), fc.oneof(text, fc.constant(join(dir, "missing.jsonl")))),
        );
        const argv = fc.tuple(
          fc.oneof(fc.constantFrom("noop", "work", "missing", ""), text),
          fc.option(
            fc.oneof(
              fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)),
              text,
            ),
            { nil: undefined },
          ),
          fc.array(flag, { maxLength: 4 }),
        );
        const exits: Record<string, number> = {};
        await fc.assert(
          fc.asyncProperty(argv, async ([handler, payload, flags]) => {
            const args = [
              CLI_BIN,
              "submit",
              handler,
              ...(payload === undefined ? [] : [payload]),
              ...flags.flat(),
              "--store",
              db,
              "--handlers",
              fixture("handlers.mjs"),
            ];
            const before = count();
            const r = spawnSync(process.execPath, args, { encoding: "utf8", timeout: 30_000, cwd: dir });
            exits[String(r.status)] = (exits[String(r.status)] ?? 0) + 1;
            expect([0, 1, 2], `exit ${r.status} signal ${r.signal} for ${JSON.stringify(args.slice(1))}: ${r.stderr}`).toContain(r.status);
            expect(r.stderr, "no stack trace").not.toMatch(/\n\s+at /);
            if (r.status === 0) {
              const printed = r.stdout.split("\n").filter(Boolean);
              expect(count()).toBe(before + (flags.some(([f]) => f === "--json") ? 1 : printed.length));
            } else {
              expect(r.stderr).toMatch(/error/i);
              expect(count(), "nothing written on error").toBe(before);
            }
          }),
          { seed, numRuns: CHAOS ? 200 : 20 },
        );
        recordFigures("fuzz-cli-submit", { seed, runs: CHAOS ? 200 : 20, exits });
      } finally {
        cleanup();
      }
    },
  );
});
