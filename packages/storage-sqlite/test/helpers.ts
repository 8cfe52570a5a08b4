import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import Database from "better-sqlite3";
import { Kysely, Migrator, SqliteDialect } from "kysely";
import { createJob, createResult, parseJobSpec, transition, type Job, type Result } from "@pyrexis/models";
import { migrationProvider, MIGRATION_LOCK_TABLE, MIGRATION_TABLE } from "../src/schema.js";

/** A pending job with a fixed id and creation time. */
export function job(id: string, createdAt = 1_000, extra: { priority?: number; payload?: unknown } = {}): Job {
  return createJob(
    parseJobSpec({ id, handler: "work", payload: (extra.payload ?? { n: id }) as never, priority: extra.priority }),
    createdAt,
  );
}

/** The same job moved to `running` (version + 1). */
export function running(j: Job, now = j.updatedAt + 1): Job {
  return transition(j, "running", now, { attempts: j.attempts + 1 });
}

/** A completed result for `jobId`. */
export function result(jobId: string, output: unknown = "ok"): Result {
  return createResult({ jobId, status: "completed", output: output as never, startedAt: 2_000, endedAt: 2_500, attempts: 1 });
}

/** SHA-256 of a file's bytes. */
export function hashFile(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/** The rejection of `p` (fails the test when `p` fulfils). */
export async function rejection(p: Promise<unknown>): Promise<Error & { code?: string; jobId?: string }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { code?: string; jobId?: string };
  }
  throw new Error("expected a rejection, but the promise fulfilled");
}

/**
 * Writes a store file as an older version of this package left it: the migrations up to `upTo`
 * only, with `jobs` inserted through the columns that version had (aging rate 0.1).
 */
export async function legacyStore(path: string, upTo: string, jobs: readonly Job[]): Promise<void> {
  const db = new Database(path);
  const kysely = new Kysely<unknown>({ dialect: new SqliteDialect({ database: db }) });
  try {
    const migrator = new Migrator({
      db: kysely,
      provider: migrationProvider,
      migrationTableName: MIGRATION_TABLE,
      migrationLockTableName: MIGRATION_LOCK_TABLE,
    });
    const { error } = await migrator.migrateTo(upTo);
    if (error !== undefined) throw error instanceof Error ? error : new Error(`migrating to ${upTo} failed`, { cause: error });
    const insert = db.prepare(
      "INSERT INTO jobs (id, status, priority, run_at, created_at, version, aging_key, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    );
    for (const j of jobs)
      insert.run(j.id, j.status, j.priority, j.runAt, j.createdAt, j.version, j.priority - (0.1 * j.runAt) / 1000, JSON.stringify(j));
  } finally {
    await kysely.destroy();
  }
}

/** A connection that records the text and parameters of every statement the store runs. */
export function recording(path: string): { db: Database.Database; runs: { text: string; params: unknown[] }[] } {
  const db = new Database(path);
  const runs: { text: string; params: unknown[] }[] = [];
  const prepare = db.prepare.bind(db);
  db.prepare = ((text: string) => {
    const stmt = prepare(text);
    return new Proxy(stmt, {
      get(target, key, receiver) {
        const value: unknown = Reflect.get(target, key, receiver);
        if (typeof value !== "function" || !["all", "get", "iterate", "run"].includes(String(key))) return value;
        return (...params: unknown[]) => {
          runs.push({ text, params });
          return (value as (...a: unknown[]) => unknown).apply(target, params);
        };
      },
    });
  }) as typeof db.prepare;
  return { db, runs };
}
