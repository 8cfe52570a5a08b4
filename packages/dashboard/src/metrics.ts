// GET /metrics: the store's job counts and the dashboard's own counters, in Prometheus text
// through @pyrexis/metrics (its writer and its `pyrexis_` names). Every family is in the metric
// catalogue of packages/metrics/README.md; the tests check the exposition against it.
import { JOB_STATUSES } from "@pyrexis/models";
import { MetricsRegistry } from "@pyrexis/metrics";
import type { JobStore } from "@pyrexis/storage";

/** The dashboard's own series (the registry names of the catalogue). */
export const DASHBOARD_METRICS: Readonly<{ requests: string; request: string; actions: string; refused: string }> = Object.freeze({
  requests: "dashboard.requests",
  request: "dashboard.request",
  actions: "dashboard.actions",
  refused: "dashboard.refused",
});

/** Records what the dashboard does; {@link DashboardMetrics.exposition} renders it with the store's counts. */
export class DashboardMetrics {
  readonly registry: MetricsRegistry = new MetricsRegistry();

  /** One answered request: its route pattern (bounded: never the raw path) and status code. */
  request(route: string, status: number, ms: number): void {
    this.registry.increment(DASHBOARD_METRICS.requests, 1, { route, code: String(status) });
    this.registry.observe(DASHBOARD_METRICS.request, ms, { route });
  }

  /** One job acted on: `cancel` or `retry`, and how it went (`done`, `conflict`, `not_found`, …). */
  action(action: string, outcome: string): void {
    this.registry.increment(DASHBOARD_METRICS.actions, 1, { action, outcome });
  }

  /** One request refused by the access checks, by reason. */
  refused(reason: string): void {
    this.registry.increment(DASHBOARD_METRICS.refused, 1, { reason });
  }

  /** The text of GET /metrics: `pyrexis_jobs{status}` read from the store now, then the dashboard's own. */
  async exposition(store: JobStore): Promise<string> {
    const counts = await store.countByStatus();
    const jobs = new MetricsRegistry();
    for (const status of JOB_STATUSES) jobs.setGauge("jobs", counts[status], { status });
    return jobs.toPrometheus() + this.registry.toPrometheus();
  }
}
