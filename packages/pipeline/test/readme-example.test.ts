// The README's example: the code between the markers is the README's, verbatim (the README
// imports from "@pyrexis/pipeline" instead of ../src), so the documentation is tested.
import { describe, expect, expectTypeOf, it } from "vitest";
import { type StageProgress, batch, flatMap, map, pipeline, stage } from "../src/index.js";

describe("README example", () => {
  it("runs the inference pipeline", async () => {
    // --- README example start ---
    // Stand-in for a model server: scores a whole batch of texts in one call.
    async function scoreBatch(texts: string[], signal: AbortSignal): Promise<number[]> {
      signal.throwIfAborted();
      return texts.map((t) => t.length / 10);
    }

    const classify = pipeline(
      // preprocess: one value in (the job payload), a list out
      stage("preprocess", (payload: { texts: string[] }) => payload.texts.map((t) => t.trim().toLowerCase())),
      // stream from here on: batches of up to 2 texts, or fewer after 20 ms
      batch<string>(2, { maxWaitMs: 20 }),
      // the "model": two batch calls in flight at most, results kept in input order
      stage(
        "model",
        map(
          async (texts: string[], _i: number, signal: AbortSignal) => {
            const scores = await scoreBatch(texts, signal);
            return texts.map((text, j) => ({ text, score: scores[j]! }));
          },
          { concurrency: 2 },
        ),
      ),
      // postprocess: back to one item per text
      flatMap((rows: { text: string; score: number }[]) => rows),
      stage(
        "postprocess",
        map((r: { text: string; score: number }) => ({ text: r.text, label: r.score > 0.5 ? "long" : "short" })),
      ),
    );

    const progress: StageProgress[] = [];
    const output = await classify(
      { texts: ["  Hello ", "A much longer sentence", "ok"] },
      { progress: (p) => progress.push(p as StageProgress) }, // an executor passes its own ctx
    );
    // output: [{ text: "hello", label: "short" }, { text: "a much longer sentence", label: "long" },
    //          { text: "ok", label: "short" }]
    // --- README example end ---

    expect(output).toEqual([
      { text: "hello", label: "short" },
      { text: "a much longer sentence", label: "long" },
      { text: "ok", label: "short" },
    ]);
    expect(progress.filter((p) => p.done).map((p) => [p.stage, p.itemsIn, p.itemsOut])).toEqual([
      ["preprocess", 1, 1],
      ["batch", 3, 2],
      ["model", 2, 2],
      ["flatMap", 2, 3],
      ["postprocess", 3, 3],
    ]);
  });
});

describe("types", () => {
  it("infer the output through the stages, collecting a final stream", () => {
    const h = pipeline(
      stage("split", (s: string) => s.split(",")),
      map((x: string) => Number(x)),
      batch<number>(2),
    );
    expectTypeOf(h).parameter(0).toEqualTypeOf<string>();
    expectTypeOf(h).returns.resolves.toEqualTypeOf<number[][]>();
    const v = pipeline(
      (n: number) => n + 1,
      async (n: number) => `${n}`,
    );
    expectTypeOf(v).returns.resolves.toEqualTypeOf<string>();
  });
});
