// The dashboard's actions on jobs, on `@pyrexis/storage`'s job actions (the engine and the CLI
// use the same ones): cancel (compare-and-set, tried again on a stale version) and retry, which
// is a redrive — a NEW job with the same spec whose id, `<first id>.retry-<n>`, names the job it
// redrives; retrying the same job twice (a double click, two operators) creates one job and the
// second gets 409 `conflict` with `details.retriedAs`. Store errors become the API's HttpErrors.
import { isPyrexisError, type Job } from "@pyrexis/models";
import { cancelStoredJob, redriveStoredJob, type JobStore } from "@pyrexis/storage";
import { HttpError } from "./errors.js";

export { canCancel, canRedrive as canRetry, redriveIdOf as retryIdOf, redrivenFrom as retriedFrom } from "@pyrexis/storage";

/** What a cancel did. */
export interface CancelOutcome {
  readonly job: Job;
  /** The status the job was cancelled from. */
  readonly from: Job["status"];
}

/** Cancels job `id` (see `cancelStoredJob`): 404 for an unknown job, 409 when it finished or kept changing. */
export async function cancelJob(store: JobStore, id: string, now: () => number): Promise<CancelOutcome> {
  try {
    const { job, from } = await cancelStoredJob(store, id, { now, reason: "cancelled from the dashboard" });
    return { job, from };
  } catch (e) {
    if (isPyrexisError(e, "JOB_NOT_FOUND")) throw new HttpError("not_found", `no job ${id}`);
    if (isPyrexisError(e, "ILLEGAL_TRANSITION")) {
      const status = (e as { from?: string }).from;
      throw new HttpError("conflict", `job ${id} already finished (${status}); there is nothing to cancel`, { status });
    }
    if (isPyrexisError(e, "RESULT_EXISTS")) throw new HttpError("conflict", `job ${id} finished meanwhile; there is nothing to cancel`);
    if (isPyrexisError(e, "STALE_VERSION")) throw new HttpError("conflict", `job ${id} kept changing; try again`);
    throw e;
  }
}

/** Submits a new `pending` job with the spec of failed or cancelled job `id` (see the file header for its id). */
export async function retryJob(store: JobStore, id: string, now: () => number): Promise<Job> {
  let outcome;
  try {
    outcome = await redriveStoredJob(store, id, { now });
  } catch (e) {
    if (isPyrexisError(e, "JOB_NOT_FOUND")) throw new HttpError("not_found", `no job ${id}`);
    if (isPyrexisError(e, "NOT_REDRIVABLE")) {
      const status = (e as { status?: string }).status;
      throw new HttpError(
        "conflict",
        status === "failed" || status === "cancelled"
          ? `job ${id}: ${e.message.replace(/^job \S+ cannot be redriven: /, "")}`
          : `job ${id} is ${status}; only failed or cancelled jobs can be retried`,
        { status },
      );
    }
    throw e;
  }
  if (!outcome.created)
    throw new HttpError("conflict", `job ${id} was already retried as ${outcome.job.id}`, { retriedAs: outcome.job.id });
  return outcome.job;
}
