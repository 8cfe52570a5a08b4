// Helpers shared by the contender drivers, and the shape every contender module follows.
//
// A contender module exports `variants`: an array of {@link Variant}, and `create(ctx)` returns a
// {@link Driver}:
//   setup()                       connect, then remove anything of ours left from before
//   add(jobs)                     one bulk call; jobs: [{ payload, priority? }] (priority 0–10, higher first);
//                                 resolves when the contender has accepted (and persisted, if durable) them
//   start({ concurrency, task, onStart, onComplete })
//                                 start consumers; onStart(payload) just before the task runs,
//                                 onComplete(payload) once the contender has recorded the completion
//   settle?()                     optional: resolves when the contender's own bookkeeping is done
//   share?()                      optional: what another process needs to add jobs to this driver's queue
//                                 (JSON); with the variant's `submitter(shared)` it runs the cross-process scenario
//   stop()                        stop consumers
//   cleanup()                     remove our keys / schema / files and close connections
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const benchDir = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** @typedef {import("../work.mjs").Payload} Payload */
/** @typedef {import("../work.mjs").Task} Task */
/** One job to add: its payload and, for the scenarios that use it, a priority 0–10 (higher first). @typedef {{ payload: Payload, priority?: number }} Job */
/** @typedef {{ concurrency: number, task: Task, onStart: (payload: Payload) => void, onComplete: (payload: Payload) => void }} StartOptions */
/**
 * What `create(ctx)` returns (see the top of this file).
 * @typedef {{
 *   setup(): Promise<void>,
 *   add(jobs: Job[]): Promise<void>,
 *   start(options: StartOptions): Promise<void>,
 *   settle?(): Promise<void>,
 *   share?(): unknown,
 *   stop(): Promise<void>,
 *   cleanup(): Promise<void>,
 * }} Driver
 */
/**
 * What a scenario tells a contender before it starts: the concurrency and task it will run, the
 * aging rate of the fairness scenario, whether jobs will be added from another process, and
 * `note(text)` for a remark in the report.
 * @typedef {{ concurrency: number, task: Task, agingRate: number | undefined, crossProcess: boolean, notes: string[], note(text: string): void }} Ctx
 */
/**
 * Adds jobs from another process to the queue a driver shares (its `share()`): `open()`, then
 * `add(jobs)` as the driver's, then `close()`.
 * @typedef {{ open(): Promise<void>, add(jobs: Job[]): Promise<void>, close(): Promise<void> }} Submitter
 */
/**
 * One contender as the tables list it.
 * @typedef {{ id: string, label: string, pkg: string, priority: "aging" | "strict" | "none", scenarios: string[], notes?: string,
 *   create(ctx: Ctx): Driver, submitter?(shared: unknown, ctx: Ctx): Submitter }} Variant
 */

/** Version of an installed package, from its package.json. */
export function versionOf(/** @type {string} */ pkg) {
  try {
    return /** @type {{ version: string }} */ (JSON.parse(readFileSync(join(benchDir, "node_modules", pkg, "package.json"), "utf8")))
      .version;
  } catch {
    return "?";
  }
}

/** Resolves when a TCP connection to host:port succeeds; rejects with a short reason otherwise. */
export function probeTcp(/** @type {string} */ host, /** @type {number} */ port, timeoutMs = 2000) {
  return /** @type {Promise<void>} */ (
    new Promise((resolve, reject) => {
      const socket = connect({ host, port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new UnreachableError(`${host}:${port} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once("connect", () => {
        clearTimeout(timer);
        socket.end();
        resolve();
      });
      socket.once("error", (/** @type {NodeJS.ErrnoException} */ error) => {
        clearTimeout(timer);
        reject(new UnreachableError(`${host}:${port} ${error.code ?? error.message}`));
      });
    })
  );
}

/** A contender's server is not there: reported as "unreachable", not as a crash. */
export class UnreachableError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = "UnreachableError";
    this.code = "BENCH_UNREACHABLE";
  }
}

/** Redis host/port from REDIS_URL (default 127.0.0.1:6379). */
export function redisTarget() {
  const url = new URL(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
  return { host: url.hostname || "127.0.0.1", port: Number(url.port || 6379), db: Number(url.pathname.slice(1) || 0) };
}

/** PostgreSQL connection string from DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test). */
export function pgTarget() {
  const connectionString = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
  const url = new URL(connectionString);
  return { connectionString, host: url.hostname || "127.0.0.1", port: Number(url.port || 5432) };
}

/**
 * Runs `fn` over `items` with at most `limit` in flight.
 * @template T
 * @param {readonly T[]} items
 * @param {number} limit
 * @param {(item: T) => Promise<unknown>} fn
 */
export async function mapLimit(items, limit, fn) {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = /** @type {T} */ (items[next++]);
      await fn(item);
    }
  });
  await Promise.all(lanes);
}

/**
 * Polls `check` every `everyMs` until it returns true or `timeoutMs` passes.
 * @param {() => boolean | Promise<boolean>} check
 * @param {{ everyMs?: number, timeoutMs?: number }} [options]
 */
export async function waitUntil(check, { everyMs = 20, timeoutMs = 30_000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return true;
}

/**
 * A fresh schema name for one measurement of a PostgreSQL contender (`<prefix>_<8 hex>`), so a
 * measurement never meets another's leftovers, and the connection string that opens a Pyrexis
 * store on it (`…?schema=<name>`, the store's own query parameter). Give `prefix` the run's
 * {@link pgRunPrefix} so {@link dropPgSchemas} can sweep what a killed child left.
 * @param {string} prefix
 */
export function pgRunSchema(prefix) {
  const schema = `${prefix}_${randomBytes(4).toString("hex")}`;
  const url = new URL(pgTarget().connectionString);
  url.searchParams.set("schema", schema);
  return { schema, storeUrl: url.toString() };
}

/**
 * `<base>_<pid of peers.mjs>`: the schema prefix of one benchmark run. The measurements of a run
 * are children of one peers.mjs process and run one at a time, so a schema under this prefix that
 * exists when a measurement starts was left by an earlier child of the same run (one killed past
 * its budget) and can go; other runs on the same server (other checkouts) have other prefixes.
 * @param {string} base
 */
export function pgRunPrefix(base) {
  return `${base}_${process.ppid}`;
}

/** Drops `schema` (and everything in it) on the DATABASE_URL server. @param {string} schema */
export async function dropPgSchema(schema) {
  await dropPgSchemas([schema]);
}

/**
 * Drops every schema whose name starts with `prefix_` on the DATABASE_URL server.
 * @param {string} prefix
 */
export async function dropPgSchemasLike(prefix) {
  await dropPgSchemas(undefined, prefix);
}

/** @param {string[] | undefined} names @param {string} [prefix] */
async function dropPgSchemas(names, prefix) {
  const { default: pg } = await import("pg");
  const client = new pg.Client({ connectionString: pgTarget().connectionString });
  await client.connect();
  try {
    const list =
      names ??
      (await client.query("SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)", [`${prefix}_`])).rows.map(
        (/** @type {{ nspname: string }} */ r) => r.nspname,
      );
    for (const name of list) await client.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
  } finally {
    await client.end();
  }
}
