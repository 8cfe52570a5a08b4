// Idempotent inserts: a producer that retries a submit after a timeout or a crash names its job
// ids, and an id the store already holds gives back the stored job instead of
// `DuplicateJobError`, when it is the same work (handler, mode and payload); an id reused for
// other work is a `JobConflictError`. The engine's `submitJobs(specs, { ifExists: "return" })`
// and `pyrexis submit --if-exists return` are built on these two functions.
import { JobConflictError, type Job } from "@pyrexis/models";
import type { JobStore } from "./job-store.js";
import { sameJson } from "./json-equal.js";

/**
 * Throws `JobConflictError` (listing the fields that differ) when `stored` is not the work
 * `wanted` describes: another handler, mode or payload (payloads compared as JSON values, key
 * order ignored).
 */
export function assertSameWork(wanted: Job, stored: Job): void {
  const fields: string[] = [];
  if (wanted.handler !== stored.handler) fields.push("handler");
  if (wanted.mode !== stored.mode) fields.push("mode");
  if (!sameJson(wanted.payload, stored.payload)) fields.push("payload");
  if (fields.length > 0) throw new JobConflictError(stored.id, fields);
}

/** The specs of a batch split into those to write and those the store (or the batch) already has. */
export interface ExistingSplit {
  /** Jobs to insert, in batch order. */
  readonly fresh: Job[];
  /** The job each position of the batch resolves to: a fresh job, or a stored or earlier one. */
  readonly answer: Job[];
}

/**
 * Looks up every given id of `jobs` (`given[i]` true when spec i named its id) in the store and
 * splits the batch: stored jobs (checked with {@link assertSameWork}) answer for their specs, a
 * repeated id answers with its first spec's job, the rest are to be inserted. Reads run in
 * parallel; nothing is written. Another writer may insert one of the ids before the caller's
 * insert, which then fails with `DuplicateJobError`: split again and retry.
 *
 * @example
 * ```ts
 * const { fresh, answer } = await splitExisting(store, jobs, jobs.map(() => true));
 * if (fresh.length > 0) await store.commit({ insert: fresh });
 * ```
 */
export async function splitExisting(store: JobStore, jobs: readonly Job[], given: readonly boolean[]): Promise<ExistingSplit> {
  const firstOf = new Map<string, Job>();
  const lookups: Promise<Job | undefined>[] = [];
  const lookupAt: number[] = [];
  for (let i = 0; i < jobs.length; i++) {
    const job = jobs[i]!;
    if (!given[i] || firstOf.has(job.id)) continue;
    firstOf.set(job.id, job);
    lookups.push(store.getJob(job.id));
    lookupAt.push(i);
  }
  const stored = new Map<string, Job>();
  const found = await Promise.all(lookups);
  for (let k = 0; k < found.length; k++) {
    const existing = found[k];
    if (existing === undefined) continue;
    assertSameWork(jobs[lookupAt[k]!]!, existing);
    stored.set(existing.id, existing);
  }
  const fresh: Job[] = [];
  const answer: Job[] = new Array<Job>(jobs.length);
  for (let i = 0; i < jobs.length; i++) {
    const job = jobs[i]!;
    const existing = given[i] ? stored.get(job.id) : undefined;
    if (existing !== undefined) {
      answer[i] = existing;
      continue;
    }
    const first = given[i] ? firstOf.get(job.id)! : job;
    if (first !== job) {
      assertSameWork(job, first);
      answer[i] = first;
      continue;
    }
    fresh.push(job);
    answer[i] = job;
  }
  return { fresh, answer };
}
