// A failed value stage is a stage run like any other: it is timed and ends with a final report.
import { MetricsRegistry } from "@pyrexis/metrics";
import { expect, it } from "vitest";
import { createPipeline, stage, type StageProgress } from "../src/index.js";

it("a value stage that throws still records its timing and a final progress report", async () => {
  const metrics = new MetricsRegistry();
  const reports: StageProgress[] = [];
  const run = createPipeline(
    [
      stage("parse", () => {
        throw new Error("bad input");
      }),
    ],
    { metrics },
  );
  await expect(run("x", { signal: new AbortController().signal, progress: (p) => reports.push(p as StageProgress) })).rejects.toThrow(
    "bad input",
  );
  expect(metrics.getTimings()['pipeline.stage{stage="parse"}']?.count).toBe(1);
  expect(reports.at(-1)).toEqual({ stage: "parse", index: 0, itemsIn: 1, itemsOut: 0, done: true });
});
