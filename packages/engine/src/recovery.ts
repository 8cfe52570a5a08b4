import { InterruptedError, recordFailure, type Job, type RandomSource } from "@pyrexis/models";
import type { JobStore } from "@pyrexis/storage";

/** Page size of recovery's listing. */
const LIST_PAGE = 1000;

/** What recovery on a store without claims does with each unfinished job. */
export interface RecoveryHost {
  /** True when the engine already holds the job (it was submitted or recovered before). */
  holds(id: string): boolean;
  /** A `pending`/`retrying` job to queue as it is. */
  queue(job: Job): void;
  /** A job found `running` whose interrupted attempt leaves attempts to spare: write `next` (from `previous`) and queue it. */
  retry(previous: Job, next: Job): Promise<void>;
  /** A job found `running` whose attempts are used up: write the failed record and its result. */
  fail(previous: Job, next: Job, error: Job["lastError"]): Promise<void>;
  /** Newest `createdAt` seen, for later rescans. */
  saw(createdAt: number): void;
}

/** Counts of one recovery. */
export interface RecoveryReport {
  readonly recovered: number;
  readonly interrupted: number;
}

/**
 * Recovery on a store without claims (one engine per store): `pending` and `retrying` jobs are
 * queued again; a job found `running` was interrupted by a crash, which counts as a failed
 * attempt (retried or failed by the usual rules). A write another writer beat (`StaleVersionError`)
 * is the store winning, not a failed recovery: the host's writes handle it.
 */
export async function recoverFromListing(store: JobStore, host: RecoveryHost, now: number, random: RandomSource): Promise<RecoveryReport> {
  let recovered = 0;
  let interrupted = 0;
  const durable: Promise<void>[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listJobs({ status: ["pending", "retrying", "running"], limit: LIST_PAGE, cursor });
    for (const job of page.jobs) {
      host.saw(job.createdAt);
      if (host.holds(job.id)) continue;
      if (job.status === "running") {
        interrupted++;
        const outcome = recordFailure(job, new InterruptedError(job.id), now, random);
        durable.push(outcome.willRetry ? host.retry(job, outcome.job) : host.fail(job, outcome.job, outcome.error));
      } else {
        host.queue(job);
      }
      recovered++;
    }
    cursor = page.cursor;
  } while (cursor !== undefined);
  await Promise.all(durable);
  return { recovered, interrupted };
}
