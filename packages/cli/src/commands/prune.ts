import type { FinishedStatus, JobStore, PruneJobStore, PruneRequest } from "@pyrexis/storage";
import { hasPrune } from "@pyrexis/storage";
import { normalizePruneRequest } from "@pyrexis/storage/kit";
import { UsageError } from "../errors.js";
import { parseDuration } from "../duration.js";
import type { CliIo } from "../io.js";
import { openExistingStore, resolveStorePath, withStore } from "../store.js";

/** Options of `pyrexis prune`. */
export interface PruneOptions {
  store?: string | undefined;
  /** Delete jobs that finished longer ago than this duration (`7d`). */
  olderThan?: string | undefined;
  /** Keep only the newest N of each status. */
  keepCount?: number | undefined;
  /** Statuses to prune (repeatable or comma lists); default all three finished ones. */
  status?: string[] | undefined;
  /** Jobs per store call (default 500). */
  batch?: number | undefined;
  /** Count what would be deleted; delete nothing. */
  dryRun?: boolean | undefined;
  /** SQLite: rewrite the file compactly afterwards (`SqliteJobStore.vacuum`). */
  vacuum?: boolean | undefined;
  json?: boolean | undefined;
}

const FINISHED: readonly FinishedStatus[] = ["completed", "failed", "cancelled"];

/** Parses `--status` for prune: only finished statuses; anything else is a usage error naming it. */
export function parseFinishedStatuses(values: readonly string[] | undefined): FinishedStatus[] {
  if (values === undefined || values.length === 0) return [...FINISHED];
  const out = new Set<FinishedStatus>();
  for (const v of values.flatMap((s) => s.split(","))) {
    const s = v.trim();
    if (s === "") continue;
    if (!(FINISHED as readonly string[]).includes(s)) {
      throw new UsageError(`--status: prune deletes only finished jobs (completed, failed, cancelled); "${s}" is not one`, [
        { path: ["--status"], message: "not a finished status" },
      ]);
    }
    out.add(s as FinishedStatus);
  }
  if (out.size === 0) throw new UsageError("--status: name at least one of completed, failed, cancelled");
  return FINISHED.filter((s) => out.has(s));
}

/** The store requests of one run: per status, one by age and/or one by count (a job goes once it exceeds either). */
export function pruneRequests(options: PruneOptions, now: number): PruneRequest[] {
  const statuses = parseFinishedStatuses(options.status);
  const maxAgeMs = options.olderThan === undefined ? undefined : parseDuration(options.olderThan, "--older-than");
  if (maxAgeMs === undefined && options.keepCount === undefined) {
    throw new UsageError("prune needs --older-than <duration> or --keep-count <n> (or both): it never deletes everything by default");
  }
  const limit = options.batch ?? 500;
  const requests: PruneRequest[] = [];
  for (const status of statuses) {
    if (maxAgeMs !== undefined) requests.push({ status, finishedBefore: now - maxAgeMs, limit });
    if (options.keepCount !== undefined) requests.push({ status, keepLatest: options.keepCount, limit });
  }
  // The store's own checks, before the store is opened: a bad value writes nothing.
  for (const r of requests) normalizePruneRequest(r);
  return requests;
}

/**
 * What a run would delete, per status, by the store contract's definition (`selectPrunable`),
 * counted in one streaming pass per status, so a dry run over millions of jobs holds one page:
 * every request's list is a prefix of the same finish order (oldest first) — "finished before
 * t" is the prefix of jobs before t, "all but the newest k" the first total − k, both at once
 * the shorter of the two — so the union the requests delete is the longest of those prefixes.
 */
async function dryRun(store: JobStore, requests: readonly PruneRequest[]): Promise<Record<FinishedStatus, number>> {
  const counts: Record<FinishedStatus, number> = { completed: 0, failed: 0, cancelled: 0 };
  for (const status of ["completed", "failed", "cancelled"] as const) {
    const mine = requests.map((r) => normalizePruneRequest(r)).filter((r) => r.statuses.includes(status));
    // keepLatest counts over a request's statuses together: the prefix rule needs one each.
    if (mine.some((r) => r.statuses.length !== 1)) throw new TypeError("prune --dry-run: a request must name one status");
    if (mine.length === 0) continue;
    const cutoffs = [...new Set(mine.flatMap((r) => (r.finishedBefore === undefined ? [] : [r.finishedBefore])))];
    const before = new Map<number, number>(cutoffs.map((t) => [t, 0]));
    let total = 0;
    let cursor: string | undefined;
    do {
      const page = await store.listJobs({ status, limit: 1000, cursor });
      for (const job of page.jobs) {
        total++;
        for (const t of cutoffs) if (job.updatedAt < t) before.set(t, (before.get(t) as number) + 1);
      }
      cursor = page.cursor;
    } while (cursor !== undefined);
    for (const r of mine) {
      const spared = r.keepLatest === undefined ? total : Math.max(0, total - r.keepLatest);
      const prefix = r.finishedBefore === undefined ? spared : Math.min(spared, before.get(r.finishedBefore) as number);
      counts[status] = Math.max(counts[status], prefix);
    }
  }
  return counts;
}

async function prune(store: PruneJobStore, requests: readonly PruneRequest[]): Promise<Record<FinishedStatus, number>> {
  const deleted: Record<FinishedStatus, number> = { completed: 0, failed: 0, cancelled: 0 };
  for (const request of requests) {
    for (;;) {
      const report = await store.pruneFinished(request);
      deleted[request.status as FinishedStatus] += report.deleted.length;
      if (!report.more) break;
    }
  }
  return deleted;
}

/**
 * `pyrexis prune`: a one-off retention run. Deletes finished jobs (and their results) older
 * than `--older-than` and/or beyond the newest `--keep-count` of each status, in batches of
 * `--batch`; `--dry-run` only counts. Every flag is checked before the store is opened, so bad
 * input deletes nothing. Safe while workers run: the store deletes finished jobs only.
 */
export async function pruneCommand(options: PruneOptions, io: CliIo): Promise<number> {
  const requests = pruneRequests(options, Date.now());
  const path = resolveStorePath(options.store, io);
  const outcome = await withStore(openExistingStore(path), async (store) => {
    if (!hasPrune(store)) throw new UsageError(`the store at ${path} cannot prune (no prune capability)`);
    const vacuum = (store as Partial<{ vacuum(): Promise<{ pagesBefore: number; pagesAfter: number }> }>).vacuum;
    if (options.vacuum && typeof vacuum !== "function")
      throw new UsageError("--vacuum is for SQLite stores (PostgreSQL's autovacuum reclaims space)");
    const counts = options.dryRun ? await dryRun(store, requests) : await prune(store, requests);
    const pages = options.vacuum && !options.dryRun ? await vacuum!.call(store) : undefined;
    return { counts, pages };
  });
  const total = outcome.counts.completed + outcome.counts.failed + outcome.counts.cancelled;
  if (options.json) {
    io.stdout.write(
      `${JSON.stringify({ dryRun: options.dryRun === true, deleted: outcome.counts, total, ...(outcome.pages ? { vacuum: outcome.pages } : {}) })}\n`,
    );
    return 0;
  }
  const by = FINISHED.filter((s) => outcome.counts[s] > 0)
    .map((s) => `${outcome.counts[s]} ${s}`)
    .join(", ");
  io.stdout.write(`${options.dryRun ? "would prune" : "pruned"} ${total} job(s)${by ? ` (${by})` : ""}\n`);
  if (outcome.pages) io.stdout.write(`vacuumed: ${outcome.pages.pagesBefore} → ${outcome.pages.pagesAfter} pages\n`);
  return 0;
}
