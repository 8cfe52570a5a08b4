import { deadLetters, errorCodeOfJob } from "@pyrexis/storage";
import { formatTable, formatTime } from "../format.js";
import type { CliIo } from "../io.js";
import { openExistingStore, resolveStorePath, withStore } from "../store.js";
import { splitList } from "../list-flags.js";

/** Options of `pyrexis dead-letters`. */
export interface DeadLettersOptions {
  store?: string | undefined;
  handler?: string[] | undefined;
  errorCode?: string[] | undefined;
  limit?: number | undefined;
  cursor?: string | undefined;
  json?: boolean | undefined;
}

/** `pyrexis dead-letters`: failed jobs, oldest first, with their last error's code and message. */
export async function deadLettersCommand(options: DeadLettersOptions, io: CliIo): Promise<number> {
  const path = resolveStorePath(options.store, io);
  const handler = splitList(options.handler, "--handler");
  const errorCode = splitList(options.errorCode, "--error-code");
  const page = await withStore(openExistingStore(path), (store) =>
    deadLetters(store, { handler, errorCode, limit: options.limit ?? 20, cursor: options.cursor }),
  );
  if (options.json) {
    io.stdout.write(`${JSON.stringify(page.cursor === undefined ? { jobs: page.jobs } : { jobs: page.jobs, cursor: page.cursor })}\n`);
    return 0;
  }
  if (page.jobs.length === 0) io.stdout.write(page.cursor === undefined ? "no failed jobs\n" : "none in this stretch\n");
  else {
    const rows = page.jobs.map((j) => [
      j.id,
      j.handler,
      errorCodeOfJob(j) ?? "",
      (j.lastError?.message ?? "").slice(0, 60),
      `${j.attempts}/${j.maxAttempts}`,
      formatTime(j.updatedAt),
    ]);
    io.stdout.write(formatTable(["ID", "HANDLER", "ERROR", "MESSAGE", "ATTEMPTS", "FAILED"], rows));
  }
  if (page.cursor !== undefined) io.stdout.write(`more: --cursor ${page.cursor}\n`);
  return 0;
}
