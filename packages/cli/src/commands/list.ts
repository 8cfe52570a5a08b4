import { JOB_STATUSES, type JobStatus } from "@pyrexis/models";
import { UsageError } from "../errors.js";
import { formatTable, formatTime } from "../format.js";
import type { CliIo } from "../io.js";
import { openExistingStore, resolveStorePath, withStore } from "../store.js";

/** Options of `pyrexis list`. */
export interface ListOptions {
  store?: string | undefined;
  status?: string[] | undefined;
  limit?: number | undefined;
  cursor?: string | undefined;
  json?: boolean | undefined;
}

/** Parses repeated and comma-separated `--status` values; an unknown status is a usage error. */
export function parseStatuses(values: readonly string[] | undefined): JobStatus[] | undefined {
  if (!values || values.length === 0) return undefined;
  const out = new Set<JobStatus>();
  for (const v of values.flatMap((s) => s.split(","))) {
    const s = v.trim();
    if (s === "") continue;
    if (!(JOB_STATUSES as readonly string[]).includes(s)) {
      throw new UsageError(`--status: unknown status "${s}" (one of ${JOB_STATUSES.join(", ")})`);
    }
    out.add(s as JobStatus);
  }
  return out.size === 0 ? undefined : [...out];
}

/** `pyrexis list`: jobs newest first, as a table or JSON (`{ jobs, cursor }`). */
export async function listCommand(options: ListOptions, io: CliIo): Promise<number> {
  const status = parseStatuses(options.status);
  const path = resolveStorePath(options.store, io);
  const page = await withStore(openExistingStore(path), (store) =>
    store.listJobs({ status, limit: options.limit ?? 20, cursor: options.cursor, order: "desc" }),
  );
  if (options.json) {
    io.stdout.write(`${JSON.stringify(page.cursor === undefined ? { jobs: page.jobs } : { jobs: page.jobs, cursor: page.cursor })}\n`);
    return 0;
  }
  if (page.jobs.length === 0) {
    io.stdout.write("no jobs\n");
    return 0;
  }
  const rows = page.jobs.map((j) => [
    j.id,
    j.status,
    j.handler,
    j.mode,
    j.priority,
    `${j.attempts}/${j.maxAttempts}`,
    formatTime(j.createdAt),
  ]);
  io.stdout.write(formatTable(["ID", "STATUS", "HANDLER", "MODE", "PRI", "ATTEMPTS", "CREATED"], rows, { alignRight: [4] }));
  if (page.cursor !== undefined) io.stdout.write(`more: --cursor ${page.cursor}\n`);
  return 0;
}
