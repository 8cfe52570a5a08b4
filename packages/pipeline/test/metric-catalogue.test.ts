// The pipeline's stage timings, exposed through a real MetricsRegistry, are under `pyrexis_` and
// documented in packages/metrics/README.md with their type and labels, and the README's pipeline
// rows are all emitted (a failing stage included).
import { MetricsRegistry } from "@pyrexis/metrics";
import { expect, it } from "vitest";
import { catalogueProblems, missingRows, readCatalogue } from "../../metrics/test/metric-catalogue.js";
import { createPipeline, map, stage, STAGE_METRIC } from "../src/index.js";

it("a pipeline's metrics, succeeding and failing, are the documented pyrexis_ ones", async () => {
  const catalogue = readCatalogue();
  const metrics = new MetricsRegistry();
  const ok = createPipeline([stage("split", (text: string) => text.split(" ")), map((w: string) => w.length)], { metrics });
  const failing = createPipeline(
    [
      stage("parse", () => {
        throw new Error("bad input");
      }),
    ],
    { metrics },
  );
  const signal = new AbortController().signal;
  await expect(ok("two words", { signal })).resolves.toEqual([3, 5]);
  await expect(failing("x", { signal })).rejects.toThrow("bad input");

  expect(STAGE_METRIC).toBe("pipeline.stage");
  expect(Object.keys(metrics.getTimings()).sort()).toEqual([
    'pipeline.stage{stage="map"}',
    'pipeline.stage{stage="parse"}',
    'pipeline.stage{stage="split"}',
  ]);
  const seen = new Set<string>();
  const sourceNames = Object.keys(metrics.getTimings());
  expect(catalogueProblems(metrics.toPrometheus(), "pipeline", { catalogue, sourceNames, seen })).toEqual([]);
  expect(missingRows("pipeline", seen, catalogue)).toEqual([]);
});
