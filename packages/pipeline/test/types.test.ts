// Type inference through pipeline(): the types are part of the API.
import { describe, expectTypeOf, it } from "vitest";
import { batch, map, pipeline, stage } from "../src/index.js";

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
