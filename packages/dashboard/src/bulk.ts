// An action on every job a filter matches: the jobs list's query, page by page, each eligible job
// cancelled or retried one at a time (each its own compare-and-set, so one job's conflict never
// undoes another's change), bounded by `max`. `dryRun` only counts what would change.
import type { JobStore, QueryJobsQuery } from "@pyrexis/storage";
import { canCancel, canRetry, cancelJob, retryJob } from "./actions.js";
import { HttpError } from "./errors.js";
import { queryJobsPage } from "./job-query.js";

/** Largest `max` of one bulk action. */
export const MAX_BULK = 10_000;
/** `max` when the request gives none. */
export const DEFAULT_BULK = 1000;
/** Failures listed in a report at most (all are counted). */
const LISTED_FAILURES = 20;

/** A bulk action's kind. */
export type BulkAction = "cancel" | "retry";

/** What a bulk action did (or, with `dryRun`, would do). */
export interface BulkReport {
  readonly action: BulkAction;
  readonly dryRun: boolean;
  /** Jobs the filter matched and the action applies to (seen so far, up to `max`). */
  readonly eligible: number;
  /** Jobs changed (cancelled, or retried as a new job); 0 for a dry run. */
  readonly done: number;
  /** Jobs the filter matched that the action does not apply to (e.g. completed ones). */
  readonly skipped: number;
  /** Eligible jobs the action failed on (e.g. finished meanwhile), the first few listed. */
  readonly failed: number;
  readonly failures: readonly { readonly id: string; readonly code: string; readonly message: string }[];
  /** True when `max` was reached before the filter's last match. */
  readonly truncated: boolean;
}

/** Runs `action` on the jobs matching `filter` (its `cursor` and `limit` are ignored). */
export async function bulkAction(
  store: JobStore,
  action: BulkAction,
  filter: QueryJobsQuery,
  options: { readonly max: number; readonly dryRun: boolean; readonly now: () => number },
): Promise<BulkReport> {
  const applies = action === "cancel" ? canCancel : canRetry;
  let eligible = 0;
  let done = 0;
  let skipped = 0;
  let failed = 0;
  const failures: { id: string; code: string; message: string }[] = [];
  let cursor: string | undefined;
  let truncated = false;
  // Oldest first: retries this run creates are newer and pending, so they are never acted on.
  const base: QueryJobsQuery = { ...filter, order: "asc", limit: 500, cursor: undefined };
  outer: for (;;) {
    const page = await queryJobsPage(store, { ...base, cursor });
    for (const job of page.jobs) {
      if (!applies(job)) {
        skipped++;
        continue;
      }
      if (eligible === options.max) {
        truncated = true;
        break outer;
      }
      eligible++;
      if (options.dryRun) continue;
      try {
        if (action === "cancel") await cancelJob(store, job.id, options.now);
        else await retryJob(store, job.id, options.now);
        done++;
      } catch (e) {
        if (!(e instanceof HttpError)) throw e;
        failed++;
        if (failures.length < LISTED_FAILURES) failures.push({ id: job.id, code: e.code, message: e.message });
      }
    }
    cursor = page.cursor;
    if (cursor === undefined) break;
  }
  return { action, dryRun: options.dryRun, eligible, done, skipped, failed, failures, truncated };
}
