// The queryJobs capability on SQLite, and listJobs (a query by status alone). The listing indexes,
// each in listing order: (status, handler, created_at, id) and (handler, created_at, id) from
// migration 0004, (created_at, id) from 0001. Status has no index of its own since migration 0008:
// every status change moved a job in two status indexes, the drain's largest index cost. A status
// filter without a handler filter is served by the (status, handler, …) index instead: the
// handlers that have jobs in that status are found with a skip scan (one seek per handler, see
// HANDLERS_IN_STATUS_SQL), then each (status, handler) pair is a range scan. So a rare status in a
// large table costs its own few rows, never a walk of the table.
//
// Each (status, handler) pair of the filter is one range scan in listing order, with the creation
// window and the cursor as bounds of that range and mode, priority and the last error's code (in
// the record's JSON) checked on the rows it walks. One scan reads its rows directly and stops
// after `limit + 1`; several read only their keys (covering the index when no residual filter
// needs the row) in chunks, merged here (see `mergedKeys`), and the page's rows are then read by
// id, all in one read transaction so the page is one snapshot. A page costs about
// `limit + pairs · chunk` index entries plus the rows the residual filters skip, however large
// the table is.
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

/** The listing position of a row: what a key scan returns. */
interface RowKey {
  id: string;
  createdAt: number;
}

/** One (status, handler) pair's keys during a merge: a chunk read ahead, refilled from where it stopped. */
interface MergeSource {
  readonly statuses: readonly string[] | undefined;
  readonly handlers: readonly string[] | undefined;
  keys: RowKey[];
  next: number;
  /** Rows asked for by the last read; fewer came back when the range is exhausted. */
  asked: number;
}

/** Key columns of a merged scan, named as a list position so keys compare without copying. */
const KEY_COLUMNS = "created_at AS createdAt, id";

/** Above this many explicit (status, handler) pairs the filter runs as one scan with `IN` lists instead of merged scans. */
export const MAX_MERGED_SCANS = 64;

/**
 * The distinct handlers with jobs in status `@status`, in order: a skip scan of the
 * (status, handler, created_at, id) index, one `min(handler)` seek per handler found.
 */
export const HANDLERS_IN_STATUS_SQL: string =
  "WITH RECURSIVE h(handler) AS (" +
  "SELECT (SELECT min(handler) FROM jobs WHERE status = @status)" +
  " UNION ALL SELECT (SELECT min(handler) FROM jobs WHERE status = @status AND handler > h.handler) FROM h WHERE h.handler IS NOT NULL" +
  ") SELECT handler FROM h WHERE handler IS NOT NULL";

const ROW_COLUMNS = "id, status, version, created_at, data";
/** The page's rows, by id (primary-key lookups), in one statement. */
const ROWS_BY_IDS_SQL = `SELECT ${ROW_COLUMNS} FROM jobs WHERE id IN (SELECT value FROM json_each(?))`;

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

/**
 * One scan's SQL: `columns` is the full row for a scan read directly, or only the listing key
 * for one of several merged scans.
 */
function scanOf(
  query: NormalizedJobsQuery,
  statuses: readonly string[] | undefined,
  handlers: readonly string[] | undefined,
  columns: string,
): Scan {
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
    `SELECT ${columns} FROM jobs` +
    (where.length > 0 ? ` WHERE ${where.join(" AND ")}` : "") +
    ` ORDER BY created_at ${dir}, id ${dir} LIMIT ?`;
  return { text, values };
}

/** The (status, handler) pairs to scan; `undefined` on a side means "not filtered". */
type Pair = readonly [statuses: readonly string[] | undefined, handlers: readonly string[] | undefined];

/** The pairs of a query: one per (status, handler) pair while there are few, else one with `IN` lists. */
function pairsOf(db: SqliteDatabaseLike, query: NormalizedJobsQuery): Pair[] {
  const statuses = query.statuses === undefined ? undefined : [...query.statuses];
  const handlers = query.handlers;
  if (statuses === undefined)
    return handlers === undefined || handlers.length > MAX_MERGED_SCANS ? [[undefined, handlers]] : handlers.map((h) => [undefined, [h]]);
  const pairs: Pair[] = [];
  if (handlers === undefined) {
    // No status index: each status's handlers, found on the (status, handler, …) index. However
    // many there are, each pair stays a bounded range scan (an `IN` list would sort every row).
    const find = prepared(db, HANDLERS_IN_STATUS_SQL);
    for (const s of statuses) for (const row of find.all({ status: s }) as { handler: string }[]) pairs.push([[s], [row.handler]]);
    return pairs;
  }
  if (statuses.length * handlers.length > MAX_MERGED_SCANS) return [[statuses, handlers]];
  for (const s of statuses) for (const h of handlers) pairs.push([[s], [h]]);
  return pairs;
}

/** The next keys of one pair's range: `asked` of them at most, after its last key read (or the query's cursor). */
function readKeys(db: SqliteDatabaseLike, query: NormalizedJobsQuery, source: MergeSource, asked: number): void {
  const last = source.keys[source.keys.length - 1];
  const bounded = { ...query, after: last ?? query.after, limit: asked - 1 };
  const scan = scanOf(bounded, source.statuses, source.handlers, KEY_COLUMNS);
  source.keys = prepared(db, scan.text).all(...scan.values) as RowKey[];
  source.next = 0;
  source.asked = asked;
}

/**
 * The first `limit + 1` keys of the pairs' ranges, in listing order: a k-way merge that reads
 * each range in chunks (a share of the page at first, doubling for a range the page keeps
 * drawing from), so a page reads about `limit + pairs · chunk` index entries, not
 * `pairs · limit`, and needs no sort.
 */
function mergedKeys(db: SqliteDatabaseLike, query: NormalizedJobsQuery, pairs: readonly Pair[]): RowKey[] {
  const want = query.limit + 1;
  const first = Math.min(want, Math.ceil(want / pairs.length) + 1);
  const sources: MergeSource[] = pairs.map(([statuses, handlers]) => ({ statuses, handlers, keys: [], next: 0, asked: 0 }));
  for (const source of sources) readKeys(db, query, source, first);
  const sign = query.order === "asc" ? 1 : -1;
  const out: RowKey[] = [];
  while (out.length < want) {
    let best: MergeSource | undefined;
    for (const source of sources) {
      if (source.next === source.keys.length) {
        // Drained: a full chunk means the range may hold more; read on from its last key.
        if (source.keys.length < source.asked) continue;
        readKeys(db, query, source, Math.min(want, source.asked * 2));
        if (source.keys.length === 0) continue;
      }
      if (best === undefined || sign * compareListPosition(source.keys[source.next]!, best.keys[best.next]!) < 0) best = source;
    }
    if (best === undefined) break;
    out.push(best.keys[best.next++]!);
  }
  return out;
}

/** The rows of one page: `limit + 1` at most, in listing order, with the ones past the page. */
function pageRows(db: SqliteDatabaseLike, query: NormalizedJobsQuery): QueryRow[] {
  const pairs = pairsOf(db, query);
  if (pairs.length === 0) return [];
  if (pairs.length === 1) {
    const [statuses, handlers] = pairs[0]!;
    const scan = scanOf(query, statuses, handlers, ROW_COLUMNS);
    return prepared(db, scan.text).all(...scan.values) as QueryRow[];
  }
  const keys = mergedKeys(db, query, pairs);
  const found = prepared(db, ROWS_BY_IDS_SQL).all(JSON.stringify(keys.map((k) => k.id))) as QueryRow[];
  const byId = new Map(found.map((row) => [row.id, row]));
  // Inside the read transaction every row is there, as the key scans saw it.
  const rows: QueryRow[] = [];
  for (const key of keys) {
    const row = byId.get(key.id);
    if (row !== undefined) rows.push(row);
  }
  return rows;
}

/**
 * Runs a normalized query: the rows of every scan, merged in listing order, the first
 * `limit` kept. `read` turns a row into a job, or `undefined` for a corrupt row it reported
 * (skipped; the cursor still moves past it, as in `listJobs`).
 */
export function runJobsQuery(db: SqliteDatabaseLike, query: NormalizedJobsQuery, read: (row: QueryRow) => Job | undefined): ListJobsPage {
  // One snapshot for the handler lookup, the scans and the reads by id (a deferred read
  // transaction: it takes no write lock).
  db.exec("BEGIN");
  let rows: QueryRow[];
  try {
    rows = pageRows(db, query);
  } finally {
    db.exec("COMMIT");
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
