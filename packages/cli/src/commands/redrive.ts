import { redriveMatching, redriveOne, type RedriveFilter } from "@pyrexis/storage";
import { UsageError } from "../errors.js";
import { splitList } from "../list-flags.js";
import type { CliIo } from "../io.js";
import { openExistingStore, resolveStorePath, withStore } from "../store.js";

/** Options of `pyrexis redrive`. */
export interface RedriveOptions {
  store?: string | undefined;
  handler?: string[] | undefined;
  errorCode?: string[] | undefined;
  status?: string[] | undefined;
  max?: number | undefined;
  all?: boolean | undefined;
  dryRun?: boolean | undefined;
  json?: boolean | undefined;
}

/**
 * `pyrexis redrive <id>` or `pyrexis redrive --handler … --error-code … | --all`: gives failed
 * (or, with `--status cancelled`, cancelled) jobs a new pending job each, id `<id>.retry-<n>`;
 * the failed job and its result stay as they are. Safe to repeat: a job redriven before is
 * skipped. Works on the store directly, like `cancel`: a worker picks the new jobs up.
 */
export async function redriveCommand(id: string | undefined, options: RedriveOptions, io: CliIo): Promise<number> {
  const handler = splitList(options.handler, "--handler");
  const errorCode = splitList(options.errorCode, "--error-code");
  const status = splitList(options.status, "--status");
  for (const s of status ?? []) {
    if (s !== "failed" && s !== "cancelled") throw new UsageError(`--status: "${s}" cannot be redriven (failed or cancelled)`);
  }
  const filtered = handler !== undefined || errorCode !== undefined || status !== undefined || options.all === true;
  if (id !== undefined && (filtered || options.max !== undefined || options.dryRun)) {
    throw new UsageError("give either a job <id> or filters (--handler, --error-code, --status, --all), not both");
  }
  if (id === undefined && !filtered)
    throw new UsageError("missing <id> (or filters: --handler, --error-code, --status, or --all for every failed job)");
  const path = resolveStorePath(options.store, io);
  if (id !== undefined) {
    const job = await withStore(openExistingStore(path), (store) => redriveOne({ store }, id));
    io.stdout.write(options.json ? `${JSON.stringify(job)}\n` : `${job.id}\n`);
    return 0;
  }
  const filter: RedriveFilter = {
    ...(handler === undefined ? {} : { handler }),
    ...(errorCode === undefined ? {} : { errorCode }),
    ...(status === undefined ? {} : { status: status as ("failed" | "cancelled")[] }),
    ...(options.max === undefined ? {} : { max: options.max }),
    dryRun: options.dryRun === true,
  };
  const report = await withStore(openExistingStore(path), (store) => redriveMatching({ store }, filter));
  if (options.json) {
    io.stdout.write(`${JSON.stringify(report)}\n`);
    return 0;
  }
  const verb = report.dryRun ? "would redrive" : "redriven";
  io.stdout.write(
    `${verb} ${report.redriven} of ${report.matched} matching jobs` +
      (report.alreadyRedriven > 0 ? `; ${report.alreadyRedriven} redriven before (skipped)` : "") +
      (report.unredrivable > 0 ? `; ${report.unredrivable} cannot be (id too long)` : "") +
      "\n",
  );
  for (const newId of report.ids) io.stdout.write(`${newId}\n`);
  if (report.truncated) io.stdout.write(`stopped at --max ${options.max ?? 1000}: run again for more\n`);
  return 0;
}
