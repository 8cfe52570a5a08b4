import { describe, expect, it } from "vitest";
import { ManualClock, systemClock } from "../src/index.js";

describe("ManualClock", () => {
  it("starts where told (default 0) and moves only when told", () => {
    expect(new ManualClock().now()).toBe(0);
    const c = new ManualClock(100);
    expect(c.now()).toBe(100);
    c.advance(50);
    expect(c.now()).toBe(150);
    c.advance(0);
    c.set(1_000);
    expect(c.now()).toBe(1_000);
    c.set(1_000);
    expect(c.now()).toBe(1_000);
  });

  it("never goes backwards", () => {
    const c = new ManualClock(100);
    expect(() => c.advance(-1)).toThrow(RangeError);
    expect(() => c.advance(Number.NaN)).toThrow(RangeError);
    expect(() => c.set(99)).toThrow(RangeError);
    expect(c.now()).toBe(100);
  });

  it("systemClock reads Date.now() and is frozen", () => {
    const before = Date.now();
    const t = systemClock.now();
    expect(t).toBeGreaterThanOrEqual(before);
    expect(Object.isFrozen(systemClock)).toBe(true);
  });
});
