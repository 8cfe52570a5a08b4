// GET /metrics against the metric catalogue of packages/metrics/README.md: every family the
// dashboard exposes is documented there (type, labels, emitter), and every row naming the
// dashboard is exposed.
import { describe, expect, it } from "vitest";
import { catalogueProblems, missingRows } from "../../metrics/test/metric-catalogue.js";
import { bearer, pending, request, start, TOKEN } from "./helpers.js";

describe("GET /metrics", () => {
  it("is Prometheus text under pyrexis_, every family in the README's catalogue and every dashboard row present", async () => {
    const { url, origin, store, dashboard } = await start({ token: TOKEN });
    const job = pending();
    await store.commit({ insert: [job] });
    await request(url, "/api/jobs");
    await request(url, `/api/jobs/${job.id}/cancel`, { method: "POST", headers: bearer(origin), body: {} });
    await request(url, `/api/jobs/${job.id}/cancel`, { method: "POST", headers: { origin }, body: {} });
    const r = await request(url, "/metrics");
    expect(r.status).toBe(200);
    expect(r.headers["content-type"]).toBe("text/plain; version=0.0.4; charset=utf-8");
    expect(r.text).toContain('pyrexis_jobs{status="cancelled"} 1');
    expect(r.text).toContain('pyrexis_dashboard_actions_total{action="cancel",outcome="done"} 1');
    expect(r.text).toMatch(/pyrexis_dashboard_requests_total\{route="\/api\/jobs",code="200"\} 1/);
    const seen = new Set<string>();
    const sourceNames = [
      ...Object.keys(dashboard.metrics.registry.getCounters()),
      ...Object.keys(dashboard.metrics.registry.getGauges()),
      ...Object.keys(dashboard.metrics.registry.getTimings()),
    ];
    expect(catalogueProblems(r.text, "dashboard", { seen, sourceNames })).toEqual([]);
    expect(missingRows("dashboard", seen)).toEqual([]);
  });
});
