// The queryJobs capability on SQLite. Each (status, handler) pair of the filter is one range scan
// of an index in listing order — (status, handler, created_at, id), (handler, created_at, id),
// (status, created_at, id) or (created_at, id), from migration 0004 and 0001 — with the creation
// window and the cursor as bounds of that range and mode, priority and the last error's code (in
// the record's JSON) checked on the rows it walks; the pages of the scans are merged here. Each
// scan stops after `limit + 1` rows, so a page costs O(pairs · limit) rows plus the rows the
// residual filters skip, however large the table is.
import type { Job } from "@pyrexis/models";
import type { ListJobsPage } from "@pyrexis/storage";
import { compareListPosition, encodeListCursor, type NormalizedJobsQuery } from "@pyrexis/storage/kit";
import type { SqliteDatabaseLike, SqliteStatementLike } from "./sqlite-database-like.js";

/** A listed row, as `SqliteJobStore` reads it. */
export interface QueryRow {
  id: string;
  status: string;
  version: number;
  created_at: number;
  data: unknown;
}

/** Above this many (status, handler) pairs the filter runs as one scan with `IN` lists instead of merged scans. */
export const MAX_MERGED_SCANS = 64;

const statements = new WeakMap<SqliteDatabaseLike, Map<string, SqliteStatementLike>>();

function prepared(db: SqliteDatabaseLike, text: string): SqliteStatementLike {
  let cache = statements.get(db);
  if (cache === undefined) statements.set(db, (cache = new Map<string, SqliteStatementLike>()));
  let stmt = cache.get(text);
  if (stmt === undefined) cache.set(text, (stmt = db.prepare(text)));
  return stmt;
}

/** SQL text and positional values of one scan; values never enter the text. */
interface Scan {
  readonly text: string;
  readonly values: unknown[];
}

function scanOf(query: NormalizedJobsQuery, statuses: readonly string[] | undefined, handlers: readonly string[] | undefined): Scan {
  const where: string[] = [];
  const values: unknown[] = [];
  const inList = (column: string, list: readonly unknown[]): void => {
    where.push(list.length === 1 ? `${column} = ?` : `${column} IN (${list.map(() => "?").join(", ")})`);
    values.push(...list);
  };
  if (statuses !== undefined) inList("status", statuses);
  if (handlers !== undefined) inList("handler", handlers);
  if (query.modes !== undefined) inList("mode", query.modes);
  if (query.minPriority !== undefined) {
    where.push("priority >= ?");
    values.push(query.minPriority);
  }
  if (query.maxPriority !== undefined) {
    where.push("priority <= ?");
    values.push(query.maxPriority);
  }
  if (query.createdFrom !== undefined) {
    where.push("created_at >= ?");
    values.push(query.createdFrom);
  }
  if (query.createdTo !== undefined) {
    where.push("created_at < ?");
    values.push(query.createdTo);
  }
  if (query.errorCodes !== undefined) {
    // The last error lives in the record's JSON (no column): checked on the rows the scan walks.
    const code = "coalesce(json_extract(data, '$.lastError.code'), json_extract(data, '$.lastError.name'))";
    inList(code, query.errorCodes);
  }
  const dir = query.order === "asc" ? "ASC" : "DESC";
  if (query.after !== undefined) {
    // Row-value comparison: a bound of the index range, not a filter on every row.
    where.push(`(created_at, id) ${query.order === "asc" ? ">" : "<"} (?, ?)`);
    values.push(query.after.createdAt, query.after.id);
  }
  values.push(query.limit + 1);
  const text =
    "SELECT id, status, version, created_at, data FROM jobs" +
    (where.length > 0 ? ` WHERE ${where.join(" AND ")}` : "") +
    ` ORDER BY created_at ${dir}, id ${dir} LIMIT ?`;
  return { text, values };
}

/** The scans of a query: one per (status, handler) pair while there are few, else one. */
function scansOf(query: NormalizedJobsQuery): Scan[] {
  const statuses = query.statuses === undefined ? [undefined] : [...query.statuses].map((s) => [s]);
  const handlers = query.handlers === undefined ? [undefined] : query.handlers.map((h) => [h]);
  if (statuses.length * handlers.length > MAX_MERGED_SCANS) {
    return [scanOf(query, query.statuses === undefined ? undefined : [...query.statuses], query.handlers)];
  }
  const scans: Scan[] = [];
  for (const s of statuses) for (const h of handlers) scans.push(scanOf(query, s, h));
  return scans;
}

/**
 * Runs a normalized query: the rows of every scan, merged in listing order, the first
 * `limit` kept. `read` turns a row into a job, or `undefined` for a corrupt row it reported
 * (skipped; the cursor still moves past it, as in `listJobs`).
 */
export function runJobsQuery(db: SqliteDatabaseLike, query: NormalizedJobsQuery, read: (row: QueryRow) => Job | undefined): ListJobsPage {
  const rows: QueryRow[] = [];
  const scans = scansOf(query);
  for (const scan of scans) rows.push(...(prepared(db, scan.text).all(...scan.values) as QueryRow[]));
  if (scans.length > 1) {
    const byPosition = (a: QueryRow, b: QueryRow): number =>
      compareListPosition({ createdAt: a.created_at, id: a.id }, { createdAt: b.created_at, id: b.id });
    rows.sort(query.order === "asc" ? byPosition : (a, b) => byPosition(b, a));
  }
  const page = rows.length > query.limit ? rows.slice(0, query.limit) : rows;
  const jobs: Job[] = [];
  for (const row of page) {
    const job = read(row);
    if (job !== undefined) jobs.push(job);
  }
  const last = page[page.length - 1];
  return rows.length > query.limit && last !== undefined
    ? { jobs, cursor: encodeListCursor({ createdAt: last.created_at, id: last.id }, query.order) }
    : { jobs };
}
