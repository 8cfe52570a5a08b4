import { cancelStoredJob } from "@pyrexis/storage";
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
 * recovery and claims of its own. A job running in another process is only marked: the worker
 * holding it under a claim stops it at its next lease renewal (a worker on a store without
 * claims finds out when its next commit is rejected as stale).
 */
export async function cancelCommand(id: string, options: CancelOptions, io: CliIo): Promise<number> {
  const path = resolveStorePath(options.store, io);
  const { job: cancelled, from } = await withStore(openExistingStore(path), (store) =>
    // One compare-and-set commit, read again and retried while a worker keeps changing the job.
    cancelStoredJob(store, id, { now: () => Date.now(), reason: "cancelled with pyrexis cancel" }),
  );
  const wasRunning = from === "running";
  if (options.json) io.stdout.write(`${JSON.stringify(cancelled)}\n`);
  else io.stdout.write(`cancelled ${id}\n`);
  if (wasRunning) {
    io.stderr.write(
      `pyrexis: warning: job ${id} was running; a worker in another process keeps running it, but its result will be rejected\n`,
    );
  }
  return 0;
}
