import { Worker } from "node:worker_threads";
import { describe, expect, it } from "vitest";
import type { StageProgress } from "../src/index.js";

interface Outcome {
  progress: StageProgress[];
  result?: { type: "result"; output: unknown } | { type: "error"; error: Record<string, unknown> };
  exitCode: number;
}

const fixture = new URL("./fixtures/pipeline-worker.mjs", import.meta.url);

/** Runs a handler in a real worker thread; `onStart` may post messages (e.g. "abort"). */
function runInWorker(handler: string, payload: unknown, onStart?: (w: Worker) => void): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(fixture, { workerData: { handler, payload } });
    const outcome: Outcome = { progress: [], exitCode: -1 };
    worker.on("message", (m: { type: string; progress?: StageProgress }) => {
      if (m.type === "progress") {
        outcome.progress.push(m.progress!);
        if (outcome.progress.length === 1) onStart?.(worker);
      } else outcome.result = m as Outcome["result"];
    });
    worker.on("error", reject);
    worker.on("exit", (code) => {
      outcome.exitCode = code;
      resolve(outcome);
    });
  });
}

describe("as a handler in a worker thread", () => {
  it("runs, reports every stage's progress through ctx.progress and returns the last output", async () => {
    const out = await runInWorker("squares", { n: 10 });
    expect(out.result).toEqual({ type: "result", output: 385 });
    expect(out.exitCode).toBe(0);
    const finals = out.progress.filter((p) => p.done).map((p) => [p.stage, p.itemsIn, p.itemsOut]);
    expect(finals).toEqual([
      ["expand", 1, 1],
      ["batch", 10, 3],
      ["model", 3, 3],
      ["sum", 1, 1],
    ]);
  });

  it("sends back a stage error with its stage, index and cause", async () => {
    const out = await runInWorker("failing", [1, 2, 3, 4]);
    expect(out.result).toMatchObject({
      type: "error",
      error: { name: "PipelineStageError", code: "PIPELINE_STAGE", stage: "check", index: 2, cause: "RangeError" },
    });
  });

  it("stops on abort even when the source never yields, and the worker exits", async () => {
    const out = await runInWorker("stuck", null, (w) => w.postMessage("abort"));
    expect(out.result).toMatchObject({ type: "error", error: { message: "cancelled by parent" } });
    expect(out.exitCode).toBe(0);
  });
});
