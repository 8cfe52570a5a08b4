// Dead letters and redrive: failed jobs as a view (by handler, error code, creation time), and
// a redrive that gives a failed or cancelled job a NEW job with its spec, under the id
// `redriveIdOf` names (`<first id>.retry-<n>`). The job and its result stay as they are: results
// are write-once. The id is deterministic, so a redrive repeated after a crash, or by two
// operators at once, creates one job: redrives are inserted only when absent. The engine's
// `redrive` and `deadLetters`, `pyrexis redrive` and the dashboard's bulk retry use these.
import { createJob, isPyrexisError, JobNotFoundError, parseJobSpec, ValidationError, type Job, type JobSpec } from "@pyrexis/models";
import { splitExisting } from "./existing-jobs.js";
import { checkedRedriveSpec } from "./job-actions.js";
import type { JobStore } from "./job-store.js";
import type { QueryJobsQuery } from "./query.js";
import { queryJobsPage, type JobsPage } from "./query-any-store.js";

/** The filters of a dead-letter query: failed jobs by handler, error code and creation time. */
export type DeadLetterQuery = Omit<QueryJobsQuery, "status" | "mode" | "minPriority" | "maxPriority">;

/** Which jobs {@link RedriveFilter} matches and how many at most. */
export interface RedriveFilter extends Omit<QueryJobsQuery, "status" | "limit" | "cursor" | "order"> {
  /** `"failed"` (default), `"cancelled"`, or both. */
  readonly status?: "failed" | "cancelled" | readonly ("failed" | "cancelled")[] | undefined;
  /** Most new jobs one call creates, 1–{@link MAX_REDRIVE} (default {@link DEFAULT_REDRIVE}); jobs redriven before are skipped and do not count. */
  readonly max?: number | undefined;
  /** Only count what would be redriven; write nothing. */
  readonly dryRun?: boolean | undefined;
}

/** What a redrive by filter did (or, with `dryRun`, would do). */
export interface RedriveReport {
  readonly dryRun: boolean;
  /** Jobs the filter matched that this call looked at. */
  readonly matched: number;
  /** New jobs written (with `dryRun`: that would be written). */
  readonly redriven: number;
  /** Matched jobs whose redrive existed already (skipped). */
  readonly alreadyRedriven: number;
  /** Matched jobs that cannot be redriven (their redrive's id would be too long), skipped. */
  readonly unredrivable: number;
  /** The new jobs' ids, in the order of the failed ones (oldest first). */
  readonly ids: readonly string[];
  /** True when `max` stopped the redrive before the filter's last match: call again for more. */
  readonly truncated: boolean;
}

/** Most jobs one redrive by filter may create. */
export const MAX_REDRIVE = 10_000;
/** `max` of a redrive by filter that gives none. */
export const DEFAULT_REDRIVE = 1000;
/** Failed jobs read (and redriven, in one atomic submission) per page. */
const PAGE = 200;

/** Writes the redrives' specs when their ids are absent, telling which it wrote now. */
export type SubmitIfAbsent = (specs: readonly JobSpec[]) => Promise<{ jobs: Job[]; created: readonly boolean[] | undefined }>;

/** Where redrives go: a store, and how to write to it (default {@link insertIfAbsent}; an engine passes its own submission). */
export interface RedriveHost {
  readonly store: JobStore;
  readonly submitIfAbsent?: SubmitIfAbsent | undefined;
}

/** Tries of {@link insertIfAbsent} when a concurrent writer inserts one of the ids between the look-up and the insert. */
const INSERT_IF_ABSENT_TRIES = 3;

/**
 * Inserts the jobs of `specs` (ids given) whose ids `store` does not hold yet, in one commit,
 * and returns every spec's job: new, or stored (the same work, else `JobConflictError`).
 * `created[i]` tells which were written now.
 */
export function insertIfAbsent(store: JobStore, specs: readonly JobSpec[], now: number): Promise<{ jobs: Job[]; created: boolean[] }> {
  const jobs = specs.map((spec) => createJob(parseJobSpec(spec), now));
  return insertJobsIfAbsent(
    store,
    jobs,
    jobs.map(() => true),
  );
}

/**
 * {@link insertIfAbsent} for built jobs: `given[i]` says whether job i's id was chosen by the
 * producer (only those are looked up). Looks again when a concurrent writer inserts one of the
 * ids between the look-up and the insert (a few times, then its `DuplicateJobError`).
 */
export async function insertJobsIfAbsent(
  store: JobStore,
  jobs: readonly Job[],
  given: readonly boolean[],
): Promise<{ jobs: Job[]; created: boolean[] }> {
  for (let tries = 1; ; tries++) {
    const { fresh, answer } = await splitExisting(store, jobs, given);
    try {
      if (fresh.length > 0) await store.commit({ insert: fresh });
      return { jobs: answer, created: answer.map((job, i) => job === jobs[i]) };
    } catch (e) {
      if (!isPyrexisError(e, "DUPLICATE_JOB") || tries === INSERT_IF_ABSENT_TRIES) throw e;
    }
  }
}

function submitterOf(host: RedriveHost, now: () => number): SubmitIfAbsent {
  return host.submitIfAbsent ?? ((specs) => insertIfAbsent(host.store, specs, now()));
}

/** One page of failed jobs (the dead-letter view), oldest first unless `order` says otherwise. */
export async function deadLetters(store: JobStore, query: DeadLetterQuery = {}): Promise<JobsPage> {
  if (typeof query !== "object" || query === null || Array.isArray(query)) throw new ValidationError("deadLetters query must be an object");
  for (const key of ["status", "mode", "minPriority", "maxPriority"]) {
    if (key in query) throw new ValidationError(`deadLetters: unknown filter "${key}"`, [{ path: [key], message: "unknown filter" }]);
  }
  return queryJobsPage(store, { ...query, status: "failed" });
}

function checkedMax(max: unknown): number {
  if (max === undefined) return DEFAULT_REDRIVE;
  if (typeof max !== "number" || !Number.isInteger(max) || max < 1 || max > MAX_REDRIVE) {
    throw new ValidationError(`redrive max must be an integer 1–${MAX_REDRIVE}, got ${JSON.stringify(max)}`, [
      { path: ["max"], message: `must be an integer 1–${MAX_REDRIVE}` },
    ]);
  }
  return max;
}

function checkedStatus(status: unknown): ("failed" | "cancelled")[] {
  if (status === undefined) return ["failed"];
  const list: unknown[] = Array.isArray(status) ? status : [status];
  if (list.length === 0 || !list.every((s) => s === "failed" || s === "cancelled")) {
    throw new ValidationError(`redrive status must be "failed", "cancelled" or both, got ${JSON.stringify(status)}`, [
      { path: ["status"], message: 'must be "failed" or "cancelled"' },
    ]);
  }
  return [...new Set(list as ("failed" | "cancelled")[])];
}

/** Redrives job `id`: its new job (or the one an earlier redrive created). `now` stamps it when the host has no submission of its own. */
export async function redriveOne(host: RedriveHost, id: string, now: () => number = Date.now): Promise<Job> {
  if (typeof id !== "string" || id.length === 0) throw new ValidationError("redrive expects a job id or a filter");
  const job = await host.store.getJob(id);
  if (job === undefined) throw new JobNotFoundError(id);
  const [redriven] = (await submitterOf(host, now)([checkedRedriveSpec(job)])).jobs;
  return redriven!;
}

/**
 * Redrives every job `filter` matches (failed ones by default), oldest first, a page at a time:
 * each page's redrives are one atomic idempotent submission, so a crash in the middle leaves
 * whole pages done and a repeated call skips them (`alreadyRedriven`). Redrives this call
 * creates are `pending`, never matched again.
 */
export async function redriveMatching(host: RedriveHost, filter: RedriveFilter, now: () => number = Date.now): Promise<RedriveReport> {
  if (typeof filter !== "object" || filter === null || Array.isArray(filter))
    throw new ValidationError("redrive expects a job id or a filter");
  const { max: rawMax, dryRun: rawDryRun, status: rawStatus, ...rest } = filter;
  const max = checkedMax(rawMax);
  const status = checkedStatus(rawStatus);
  const dryRun = rawDryRun === true;
  let matched = 0;
  let redriven = 0;
  let alreadyRedriven = 0;
  let unredrivable = 0;
  let truncated = false;
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await queryJobsPage(host.store, { ...rest, status, order: "asc", limit: PAGE, cursor });
    cursor = page.cursor;
    const specs: JobSpec[] = [];
    for (const job of page.jobs) {
      try {
        specs.push(checkedRedriveSpec(job));
      } catch (e) {
        if (!isPyrexisError(e, "NOT_REDRIVABLE")) throw e;
        unredrivable++;
      }
    }
    matched += page.jobs.length;
    // Jobs redriven before are skipped and do not count against `max`.
    const existing = await Promise.all(specs.map((spec) => host.store.getJob(spec.id!)));
    const fresh: JobSpec[] = [];
    for (let i = 0; i < specs.length; i++) {
      if (existing[i] !== undefined) alreadyRedriven++;
      else if (redriven + fresh.length < max) fresh.push(specs[i]!);
      else truncated = true;
    }
    if (dryRun) {
      redriven += fresh.length;
      for (const spec of fresh) ids.push(spec.id!);
    } else if (fresh.length > 0) {
      // One atomic, idempotent submission per page: another redrive racing this one for a job
      // makes it come back as existing.
      const { jobs, created } = await submitterOf(host, now)(fresh);
      for (let i = 0; i < jobs.length; i++) {
        if (created === undefined || created[i] === true) {
          redriven++;
          ids.push(jobs[i]!.id);
        } else alreadyRedriven++;
      }
    }
    if (redriven >= max && cursor !== undefined) truncated = true;
  } while (cursor !== undefined && !truncated);
  return { dryRun, matched, redriven, alreadyRedriven, unredrivable, ids, truncated };
}
