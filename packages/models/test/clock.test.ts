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

describe("ManualClock timers", () => {
  it("fire in time order during advance, each seeing its own due time", () => {
    const c = new ManualClock(1_000);
    const seen: [string, number][] = [];
    c.setTimeout(() => seen.push(["b", c.now()]), 20);
    c.setTimeout(() => seen.push(["a", c.now()]), 10);
    c.setTimeout(() => seen.push(["a2", c.now()]), 10);
    c.advance(15);
    expect(seen).toEqual([
      ["a", 1_010],
      ["a2", 1_010],
    ]);
    expect(c.now()).toBe(1_015);
    c.advance(5);
    expect(seen.at(-1)).toEqual(["b", 1_020]);
    expect(c.pendingTimers).toBe(0);
  });

  it("a timer set by a callback inside the advanced span fires in the same advance", () => {
    const c = new ManualClock();
    const seen: number[] = [];
    c.setTimeout(() => {
      seen.push(c.now());
      c.setTimeout(() => seen.push(c.now()), 5);
    }, 5);
    c.advance(100);
    expect(seen).toEqual([5, 10]);
    expect(c.now()).toBe(100);
  });

  it("clearTimeout cancels; a zero delay fires on the next advance, not at once", () => {
    const c = new ManualClock();
    let fired = 0;
    const t = c.setTimeout(() => fired++, 10);
    c.clearTimeout(t);
    c.clearTimeout(undefined);
    const z = c.setTimeout(() => fired++, 0);
    z.unref();
    expect(fired).toBe(0);
    c.advance(50);
    expect(fired).toBe(1);
  });

  it("set() fires timers on the way too", () => {
    const c = new ManualClock();
    let at = -1;
    c.setTimeout(() => (at = c.now()), 30);
    c.set(100);
    expect(at).toBe(30);
  });
});

describe("systemClock timers", () => {
  it("fire by real time and can be cleared", async () => {
    let fired = false;
    const cleared = systemClock.setTimeout(() => (fired = true), 1);
    systemClock.clearTimeout(cleared);
    await new Promise<void>((resolve) => systemClock.setTimeout(resolve, 5));
    expect(fired).toBe(false);
  });
});
