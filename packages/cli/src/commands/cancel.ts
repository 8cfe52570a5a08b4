import {
  CancelledError,
  createResult,
  IllegalTransitionError,
  isTerminal,
  JobNotFoundError,
  serializeError,
  transition,
} from "@pyrexis/models";
import type { CliIo } from "../io.js";
import { openExistingStore, resolveStorePath, withStore } from "../store.js";

/** Options of `pyrexis cancel`. */
export interface CancelOptions {
  store?: string | undefined;
  json?: boolean | undefined;
}

/**
 * `pyrexis cancel <id>`: marks a pending, retrying or running job `cancelled` and writes its
 * result, in one compare-and-set commit. It does not go through an engine: an engine would run
 * recovery, which would treat jobs a worker in another process is running as crashed. So a job
 * running in another process is only marked; that worker's later commit is rejected as stale.
 */
export async function cancelCommand(id: string, options: CancelOptions, io: CliIo): Promise<number> {
  const path = resolveStorePath(options.store, io);
  const { cancelled, wasRunning } = await withStore(openExistingStore(path), async (store) => {
    const job = await store.getJob(id);
    if (!job) throw new JobNotFoundError(id);
    if (isTerminal(job.status)) {
      const e = new IllegalTransitionError(id, job.status, "cancelled");
      e.message = `job ${id} already finished (${job.status}); there is nothing to cancel`;
      throw e;
    }
    const now = Date.now();
    const cancelled = transition(job, "cancelled", now);
    const result = createResult({
      jobId: id,
      status: "cancelled",
      error: serializeError(new CancelledError(id, "cancelled with pyrexis cancel")),
      startedAt: now,
      endedAt: now,
      attempts: cancelled.attempts,
    });
    // A stale version (a worker changed it meanwhile) rejects this whole commit: nothing written.
    await store.commit({ update: [{ job: cancelled, expectedVersion: job.version }], results: [result] });
    return { cancelled, wasRunning: job.status === "running" };
  });
  if (options.json) io.stdout.write(`${JSON.stringify(cancelled)}\n`);
  else io.stdout.write(`cancelled ${id}\n`);
  if (wasRunning) {
    io.stderr.write(
      `pyrexis: warning: job ${id} was running; a worker in another process keeps running it, but its result will be rejected\n`,
    );
  }
  return 0;
}
