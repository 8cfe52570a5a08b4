import { randomBytes } from "node:crypto";
import pg from "pg";
import { createJob, createResult, parseJobSpec, type Job, type Result } from "@pyrexis/models";
import { PostgresJobStore, type PostgresJobStoreOptions } from "../src/index.js";

/**
 * The database the tests use: `PYREXIS_PG_URL`, else `DATABASE_URL`, else the local server.
 * An unreachable server fails the tests (the first open rejects); nothing is skipped.
 */
export const PG_URL: string = process.env.PYREXIS_PG_URL ?? process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

/** {@link PG_URL} with a `schema` query parameter (how a URL alone names the store's schema). */
export function urlWithSchema(schema: string): string {
  const url = new URL(PG_URL);
  url.searchParams.set("schema", schema);
  return url.toString();
}

const made = new Set<string>();

/** A schema name no other run uses; {@link dropSchemas} removes it. */
export function freshSchema(prefix = "t"): string {
  const name = `pyx_${prefix}_${randomBytes(5).toString("hex")}`;
  made.add(name);
  return name;
}

/** Runs one query on a short-lived connection of its own (not through any store). */
export async function admin<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, params: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    return (await client.query<R>(text, params)).rows;
  } finally {
    await client.end();
  }
}

/** Drops every schema {@link freshSchema} made in this file. */
export async function dropSchemas(): Promise<void> {
  const names = [...made];
  made.clear();
  for (const name of names) await admin(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
}

/** Opens a store on `schema` (a fresh one when omitted) of the test database. */
export function openStore(schema: string = freshSchema(), options: PostgresJobStoreOptions = {}): Promise<PostgresJobStore> {
  return PostgresJobStore.open({ connectionString: PG_URL, poolSize: 4 }, { schema, ...options });
}

/** A pending job with a fixed id, due at `runAt`. */
export function job(
  id: string,
  extra: { priority?: number; createdAt?: number; runAt?: number; mode?: string; handler?: string; maxAttempts?: number } = {},
): Job {
  const created = createJob(
    parseJobSpec({
      id,
      handler: extra.handler ?? "work",
      payload: { n: id },
      priority: extra.priority,
      mode: extra.mode as never,
      maxAttempts: extra.maxAttempts,
    }),
    extra.createdAt ?? 1_000,
  );
  return extra.runAt === undefined ? created : { ...created, runAt: extra.runAt };
}

/** A completed result for `jobId`. */
export function result(jobId: string): Result {
  return createResult({ jobId, status: "completed", output: "ok", startedAt: 2_000, endedAt: 2_500, attempts: 1 });
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
