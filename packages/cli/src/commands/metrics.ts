import { MetricsRegistry, type TimingSnapshot } from "@pyrexis/metrics";
import { JOB_STATUSES, type JobStatus } from "@pyrexis/models";
import type { JobStore } from "@pyrexis/storage";
import { formatDuration, formatTable } from "../format.js";
import type { CliIo } from "../io.js";
import { openExistingStore, resolveStorePath, withStore } from "../store.js";

/** Options of `pyrexis metrics`. */
export interface MetricsOptions {
  store?: string | undefined;
  limit?: number | undefined;
  prometheus?: boolean | undefined;
  json?: boolean | undefined;
}

/** Timings the metrics command derives from results, with what each measures. */
const TIMINGS: readonly (readonly [string, string])[] = [
  ["job.duration", "last attempt start → end"],
  ["job.queue_wait", "eligible (runAt) → last attempt start"],
  ["job.turnaround", "submitted → finished"],
];

/**
 * Builds a registry from the store: gauge `jobs{status}` per status, and timings from the
 * results of the newest `limit` finished (completed or failed) jobs. The store keeps no live
 * histograms (those live in a running engine), so percentiles come from stored results.
 */
export async function collectStoreMetrics(
  store: Pick<JobStore, "countByStatus" | "listJobs" | "getResult">,
  limit: number,
): Promise<{ registry: MetricsRegistry; counts: Record<JobStatus, number>; sampled: number }> {
  const registry = new MetricsRegistry();
  const counts = await store.countByStatus();
  for (const s of JOB_STATUSES) registry.setGauge("jobs", counts[s], { status: s });
  const page = await store.listJobs({ status: ["completed", "failed"], limit, order: "desc" });
  let sampled = 0;
  for (const job of page.jobs) {
    const r = await store.getResult(job.id);
    if (!r) continue;
    sampled++;
    registry.observe("job.duration", r.durationMs, { status: r.status });
    registry.observe("job.queue_wait", Math.max(0, r.startedAt - job.runAt));
    registry.observe("job.turnaround", Math.max(0, r.endedAt - job.createdAt));
    if (r.attempts > 1) registry.increment("job.retried_attempts", r.attempts - 1);
  }
  return { registry, counts, sampled };
}

/** `pyrexis metrics`: counts by status and timing percentiles of recent finished jobs. */
export async function metricsCommand(options: MetricsOptions, io: CliIo): Promise<number> {
  const limit = options.limit ?? 1000;
  const path = resolveStorePath(options.store, io);
  const { registry, counts, sampled } = await withStore(openExistingStore(path), (store) => collectStoreMetrics(store, limit));
  if (options.prometheus) {
    io.stdout.write(registry.toPrometheus());
    return 0;
  }
  const timings = registry.getTimings();
  if (options.json) {
    io.stdout.write(`${JSON.stringify({ counts, sampled, timings, counters: registry.getCounters() })}\n`);
    return 0;
  }
  const total = JOB_STATUSES.reduce((n, s) => n + counts[s], 0);
  io.stdout.write(formatTable(["STATUS", "JOBS"], [...JOB_STATUSES.map((s) => [s, counts[s]]), ["total", total]], { alignRight: [1] }));
  io.stdout.write(`\ntimings of the ${sampled} most recent finished jobs (--limit ${limit}):\n`);
  const rows: (string | number)[][] = [];
  const keys = Object.keys(timings).sort();
  for (const [name, meaning] of TIMINGS) {
    for (const key of keys.filter((k) => k === name || k.startsWith(`${name}{`))) {
      const t: TimingSnapshot | undefined = timings[key];
      if (!t || t.count === 0) continue;
      rows.push([key, t.count, formatDuration(t.p50), formatDuration(t.p95), formatDuration(t.p99), formatDuration(t.max), meaning]);
    }
  }
  if (rows.length === 0) io.stdout.write("(no finished jobs yet)\n");
  else io.stdout.write(formatTable(["TIMING", "N", "P50", "P95", "P99", "MAX", "MEASURES"], rows, { alignRight: [1, 2, 3, 4, 5] }));
  return 0;
}
