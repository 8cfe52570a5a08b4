import { describe, expect, it } from "vitest";
import { seededRandom } from "../src/index.js";
import { seededRandom as fromSubpath } from "@pyrexis/test-utils/random";

describe("seededRandom", () => {
  it("gives the same sequence for the same seed (mulberry32's published values)", () => {
    const a = seededRandom(42);
    expect(a()).toBe(0.6011037519201636);
    const first = Array.from({ length: 5 }, seededRandom(7));
    expect(Array.from({ length: 5 }, seededRandom(7))).toEqual(first);
    expect(Array.from({ length: 5 }, seededRandom(8))).not.toEqual(first);
  });

  it("stays in [0, 1)", () => {
    const r = seededRandom(1);
    for (let i = 0; i < 10_000; i++) {
      const v = r();
      expect(v >= 0 && v < 1).toBe(true);
    }
  });

  it("uses the seed's low 32 bits", () => {
    expect(seededRandom(2 ** 32 + 42)()).toBe(seededRandom(42)());
    expect(seededRandom(-1)()).toBe(seededRandom(0xffffffff)());
  });

  it("refuses a seed that is not a finite number", () => {
    expect(() => seededRandom(Number.NaN)).toThrow(TypeError);
    expect(() => seededRandom("42" as never)).toThrow(/seed must be a finite number/);
  });

  it("is the same function on the plain-node subpath that benches import", () => {
    expect(fromSubpath(42)()).toBe(seededRandom(42)());
  });
});
