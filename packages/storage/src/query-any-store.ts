// Runs a jobs query on any store: through `queryJobs` when the store declares it, else
// through `listJobs` (which filters by status only) with the other filters applied here. The
// fallback reads bounded pages; when one holds more matches than still fit, it reads that stretch
// again up to the last match that fits, so a page never holds more than `limit` jobs and its
// cursor is always the store's own. When the read budget runs out first, the page is `partial`:
// fewer jobs, and a cursor to read on from.
import type { Job } from "@pyrexis/models";
import type { JobStore } from "./job-store.js";
import { hasQueryJobs, matchesJobsQuery, normalizeJobsQuery, type QueryJobsQuery } from "./query.js";

/** Most jobs the fallback reads from the store for one page. */
export const FALLBACK_SCAN_BUDGET = 5000;
/** Most `listJobs` calls the fallback makes for one page (besides one exact re-read at its end). */
export const FALLBACK_MAX_CALLS = 20;
/** Jobs the fallback reads per `listJobs` call. */
const FALLBACK_CHUNK = 500;

/** One page of the jobs list. */
export interface JobsPage {
  readonly jobs: readonly Job[];
  /** Present when more jobs may follow. */
  readonly cursor?: string | undefined;
  /** True when the store has no `queryJobs` and the fallback stopped at its read budget before filling the page. */
  readonly partial?: boolean | undefined;
  /** How the page was found: `"queryJobs"`, or `"listJobs"` with filtering here. */
  readonly via: "queryJobs" | "listJobs";
}

/**
 * One page of jobs matching `query` (a {@link QueryJobsQuery}), from whatever `store` offers:
 * its `queryJobs`, or `listJobs` filtered here within a read budget (then a page may be
 * `partial`: fewer jobs than `limit` and a cursor to read on from). `ValidationError` for a
 * malformed query.
 */
export async function queryJobsPage(store: JobStore, query: QueryJobsQuery): Promise<JobsPage> {
  if (hasQueryJobs(store)) {
    const page = await store.queryJobs(query);
    return { jobs: page.jobs, cursor: page.cursor, via: "queryJobs" };
  }
  return fallback(store, query);
}

async function fallback(store: JobStore, query: QueryJobsQuery): Promise<JobsPage> {
  const normalized = normalizeJobsQuery(query);
  const { limit, order } = normalized;
  const jobs: Job[] = [];
  let cursor = query.cursor;
  let read = 0;
  for (let calls = 0; calls < FALLBACK_MAX_CALLS && read < FALLBACK_SCAN_BUDGET; calls++) {
    const chunk = Math.min(FALLBACK_CHUNK, FALLBACK_SCAN_BUDGET - read);
    const page = await store.listJobs({ status: query.status, order, limit: chunk, cursor });
    read += page.jobs.length;
    const matches: number[] = [];
    page.jobs.forEach((job, i) => {
      if (matchesJobsQuery(job, normalized)) matches.push(i);
    });
    const wanted = limit - jobs.length;
    if (matches.length > wanted) {
      // More matches than the page has room for: read the same stretch again, up to the last
      // match that fits, so the store's own cursor points right after it.
      const upTo = matches[wanted - 1]! + 1;
      const exact = await store.listJobs({ status: query.status, order, limit: upTo, cursor });
      for (const job of exact.jobs) if (matchesJobsQuery(job, normalized) && jobs.length < limit) jobs.push(job);
      return { jobs, cursor: exact.cursor, via: "listJobs" };
    }
    for (const i of matches) jobs.push(page.jobs[i]!);
    cursor = page.cursor;
    if (cursor === undefined) return { jobs, via: "listJobs" };
    if (jobs.length >= limit) return { jobs, cursor, via: "listJobs" };
  }
  return { jobs, cursor, partial: true, via: "listJobs" };
}
