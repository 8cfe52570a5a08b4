// The prune capability of the SQLite store: deleting finished jobs and their results in bounded
// batches, and giving the space back. Finished rows carry their finish time in `finished_at`
// (migration 0005) and sit in the partial index `jobs_finished (finished_at, id)`, so a batch
// is one range scan of that index in delete order, stopped after `limit + 1` rows, and two
// primary-key deletes per job — however many unfinished jobs the table holds. The terminal
// status terms are literals (SQLite uses a partial index only for a WHERE clause that implies
// the index's, which it proves for literals alone), and the deletes repeat them: a row that is
// not terminal is never deleted, whatever a caller passes.

import { StoreFailureError, isPyrexisError, type Job } from "@pyrexis/models";
import type { PruneReport } from "@pyrexis/storage";
import type { NormalizedPruneRequest } from "@pyrexis/storage/kit";
import type { SqliteDatabaseLike, SqliteStatementLike } from "./sqlite-database-like.js";

const FINISHED = "status IN ('completed', 'failed', 'cancelled')";
const STATUS_FILTER = "status IN (SELECT value FROM json_each(@statuses))";

/** The `finished_at` column of a record: its `updatedAt` once it is terminal, else `NULL`. */
export function finishedAt(job: Job): number | null {
  return job.status === "completed" || job.status === "failed" || job.status === "cancelled" ? job.updatedAt : null;
}

/**
 * The newest row `keepLatest` spares last: the `keep`-th newest finished job of the statuses
 * (0-based offset `keep − 1`). Named parameters: statuses (JSON array), offset. Uses `jobs_finished` backwards.
 */
export const PRUNE_KEEP_BOUNDARY_SQL: string =
  `SELECT finished_at, id FROM jobs INDEXED BY jobs_finished WHERE ${FINISHED} AND ${STATUS_FILTER}` +
  ` ORDER BY finished_at DESC, id DESC LIMIT 1 OFFSET @offset`;

/**
 * Candidates in delete order (finish time, then id) below an upper bound: one range of
 * `jobs_finished`. `finishedBefore` and the `keepLatest` boundary are both such a bound
 * (`finished_at < t` is `(finished_at, id) < (t, '')`, the empty string being the least id), so
 * the lower of the two is passed. Named parameters: statuses (JSON array), bound finish time and
 * id, limit.
 */
export const PRUNE_SCAN_SQL: string =
  `SELECT id FROM jobs INDEXED BY jobs_finished WHERE ${FINISHED} AND ${STATUS_FILTER}` +
  ` AND (finished_at, id) < (@bound_at, @bound_id) ORDER BY finished_at, id LIMIT @limit`;

/** {@link PRUNE_SCAN_SQL} without a bound (`keepLatest: 0` alone). Named parameters: statuses, limit. */
export const PRUNE_SCAN_ALL_SQL: string =
  `SELECT id FROM jobs INDEXED BY jobs_finished WHERE ${FINISHED} AND ${STATUS_FILTER}` +
  ` AND finished_at IS NOT NULL ORDER BY finished_at, id LIMIT @limit`;

/** Deletes one job's result. Parameter: job id. */
export const PRUNE_DELETE_RESULT_SQL: string = "DELETE FROM results WHERE job_id = ?";
/** Deletes one finished job (never an unfinished one). Parameter: job id. */
export const PRUNE_DELETE_JOB_SQL: string = `DELETE FROM jobs WHERE id = ? AND ${FINISHED}`;

/**
 * Free pages above this share of the file are given back to the file system after a prune,
 * down to half the share. The gap is hysteresis: steady churn (each round frees less than half
 * the file, and the next round's inserts fill it again) never vacuums, so the file neither
 * shrinks nor regrows; a large prune (a backlog, a tightened rule) gives its space back.
 */
const MAX_FREE_SHARE = 0.5;

/** What the prune needs from its store. */
export interface SqlitePruneContext {
  readonly db: SqliteDatabaseLike;
  /** For messages. */
  readonly location: string;
}

function describe(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Prunes finished work from one SQLite connection: each call one `BEGIN IMMEDIATE` transaction
 * (select, delete results, delete jobs), then, on a file in incremental auto-vacuum mode with
 * more than half of its pages free, an `incremental_vacuum` outside the transaction.
 */
export class SqlitePrune {
  readonly #ctx: SqlitePruneContext;
  readonly #boundary: SqliteStatementLike;
  readonly #scan: SqliteStatementLike;
  readonly #scanAll: SqliteStatementLike;
  readonly #pragmas: { mode: SqliteStatementLike; free: SqliteStatementLike; pages: SqliteStatementLike };
  readonly #deleteResult: SqliteStatementLike;
  readonly #deleteJob: SqliteStatementLike;
  #request: NormalizedPruneRequest | undefined;
  #report: PruneReport | undefined;
  readonly #tx: { immediate(): void };

  constructor(ctx: SqlitePruneContext) {
    this.#ctx = ctx;
    const db = ctx.db;
    this.#boundary = db.prepare(PRUNE_KEEP_BOUNDARY_SQL);
    this.#scan = db.prepare(PRUNE_SCAN_SQL);
    this.#scanAll = db.prepare(PRUNE_SCAN_ALL_SQL);
    this.#pragmas = {
      mode: db.prepare("PRAGMA auto_vacuum"),
      free: db.prepare("PRAGMA freelist_count"),
      pages: db.prepare("PRAGMA page_count"),
    };
    this.#deleteResult = db.prepare(PRUNE_DELETE_RESULT_SQL);
    this.#deleteJob = db.prepare(PRUNE_DELETE_JOB_SQL);
    this.#tx = db.transaction(() => this.#apply());
  }

  /** Deletes one batch (see `PruneMethods` for the rules); `request` is already checked. */
  prune(request: NormalizedPruneRequest): PruneReport {
    this.#request = request;
    try {
      this.#tx.immediate();
      const report = this.#report!;
      if (report.deleted.length > 0) this.#reclaimSpace();
      return report;
    } catch (e) {
      if (isPyrexisError(e)) throw e;
      throw new StoreFailureError(`pruneFinished on ${this.#ctx.location} failed: ${describe(e)}`, { cause: e });
    } finally {
      this.#request = undefined;
      this.#report = undefined;
    }
  }

  // Inside the immediate transaction: the write lock is held from the scan to the deletes, so
  // another process's prune waits for it and then finds these rows gone (no double delete).
  #apply(): void {
    const q = this.#request!;
    const statuses = JSON.stringify(q.statuses);
    let bound: { finished_at: number; id: string } | undefined =
      q.finishedBefore === undefined ? undefined : { finished_at: q.finishedBefore, id: "" };
    if (q.keepLatest !== undefined && q.keepLatest > 0) {
      const kept = this.#boundary.get({ statuses, offset: q.keepLatest - 1 }) as { finished_at: number; id: string } | undefined;
      // Fewer finished jobs than keepLatest: every one is spared.
      if (kept === undefined) {
        this.#report = { deleted: [], more: false };
        return;
      }
      if (bound === undefined || kept.finished_at < bound.finished_at || (kept.finished_at === bound.finished_at && kept.id < bound.id)) {
        bound = kept;
      }
    }
    const limit = q.limit + 1;
    const rows = (
      bound === undefined
        ? this.#scanAll.all({ statuses, limit })
        : this.#scan.all({ statuses, bound_at: bound.finished_at, bound_id: bound.id, limit })
    ) as { id: string }[];
    const chosen = rows.length > q.limit ? rows.slice(0, q.limit) : rows;
    const deleted: string[] = [];
    for (const { id } of chosen) {
      this.#deleteResult.run(id);
      if (Number(this.#deleteJob.run(id).changes) === 1) deleted.push(id);
    }
    this.#report = { deleted, more: rows.length > q.limit };
  }

  /**
   * Gives free pages back when the file was created in incremental auto-vacuum mode (every new
   * store file is) and more than {@link MAX_FREE_SHARE} of it is free. Below that share, free
   * pages stay for the next inserts to reuse. A failure (e.g. another connection holds the
   * write lock past the busy timeout) is left for the next prune: the delete has committed.
   */
  #reclaimSpace(): void {
    const db = this.#ctx.db;
    try {
      const p = this.#pragmas;
      if (Number((p.mode.get() as { auto_vacuum: number }).auto_vacuum) !== 2) return;
      const free = Number((p.free.get() as { freelist_count: number }).freelist_count);
      const pages = Number((p.pages.get() as { page_count: number }).page_count);
      if (free <= pages * MAX_FREE_SHARE) return;
      // Keep half that share free in the smaller file: free − n = share/2 · (pages − n).
      const keep = MAX_FREE_SHARE / 2;
      db.exec(`PRAGMA incremental_vacuum(${Math.ceil((free - keep * pages) / (1 - keep))})`);
    } catch {
      // Space is given back on a later prune; the delete itself has committed.
    }
  }
}
