// The README's example, executed. Keep the two in sync (only the import path differs).
import { readFile } from "node:fs/promises";
import { expect, it } from "vitest";
import { MetricsRegistry, TimingHistogram } from "../src/index.js";

it("README example runs as documented", async () => {
  // --- README example start ---
  const metrics = new MetricsRegistry();

  metrics.increment("job.completed", 1, { mode: "thread" });
  metrics.increment("job.retries");
  metrics.setGauge("queue.depth", 12);

  // time() records the duration whether fn returns, throws, resolves or rejects.
  const embedding = await metrics.time("job.execution", async () => [0.1, 0.2], { mode: "async" });
  metrics.observe("job.execution", 42.5, { mode: "async" }); // or record a duration (ms) yourself

  console.log(metrics.getCounters()); // { 'job.completed{mode="thread"}': 1, 'job.retries': 1 }
  console.log(metrics.getTimings()['job.execution{mode="async"}']); // { count: 2, sum, avg, min, max, p50, p95, p99 }
  console.log(metrics.toPrometheus({ prefix: "pyrexis_" }));
  // # TYPE pyrexis_job_completed_total counter
  // pyrexis_job_completed_total{mode="thread"} 1
  // …
  // # TYPE pyrexis_job_execution_seconds summary
  // pyrexis_job_execution_seconds{mode="async",quantile="0.5"} …

  console.log(new TimingHistogram().estimatedFootprintInBytes); // 95232 bytes per timing series
  // --- README example end ---

  expect(embedding).toEqual([0.1, 0.2]);
  expect(metrics.getCounters()).toEqual({ 'job.completed{mode="thread"}': 1, "job.retries": 1 });
  expect(metrics.getTimings()['job.execution{mode="async"}']?.count).toBe(2);
  const text = metrics.toPrometheus({ prefix: "pyrexis_" });
  expect(text).toContain('# TYPE pyrexis_job_completed_total counter\npyrexis_job_completed_total{mode="thread"} 1\n');
  expect(text).toContain('pyrexis_job_execution_seconds{mode="async",quantile="0.5"} ');
  expect(new TimingHistogram().estimatedFootprintInBytes).toBe(95_232);
});

it("README shows exactly the example executed above", async () => {
  const here = new URL(import.meta.url);
  const source = await readFile(here, "utf8");
  const readme = await readFile(new URL("../README.md", here), "utf8");
  const body = source.split("// --- README example start ---\n")[1]!.split("  // --- README example end ---")[0]!;
  const dedented = body
    .split("\n")
    .map((l) => (l.startsWith("  ") ? l.slice(2) : l))
    .join("\n")
    .trimEnd();
  expect(readme).toContain(dedented);
  expect(readme).toContain('from "@pyrexis/metrics";');
});
