// The starvation bound: an entry of priority p is overtaken only by entries that became ready
// less than (10 − p) / agingRate seconds after it. Under a flood of priority-10 work that the
// consumers just keep up with, it therefore pops at the first pop at or after that bound.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ManualClock } from "@pyrexis/models";
import { DEFAULT_AGING_RATE, PriorityScheduler, starvationBoundSeconds } from "../src/index.js";

const SEED = Number(process.env["FC_SEED"] ?? 20_251_126);

interface Flood {
  waitMs: number;
  overtakers: number[]; // readyAt (ms after the low entry) of every entry popped before it
}

/** Pushes `low`, then every `intervalMs` pushes one priority-10 entry and pops one. */
function flood(opts: { start: number; priority: number; agingRate: number; intervalMs: number; backlog?: number }): Flood {
  const clock = new ManualClock(opts.start);
  const s = new PriorityScheduler({ clock, agingRate: opts.agingRate });
  for (let i = 0; i < (opts.backlog ?? 0); i++) {
    s.push({ id: `old${i}`, priority: 10, enqueuedAt: opts.start - 1_000 + i });
  }
  const t0 = clock.now();
  s.push({ id: "low", priority: opts.priority });
  const overtakers: number[] = [];
  for (let k = 1; k < 1_000_000; k++) {
    clock.advance(opts.intervalMs);
    s.push({ id: `hi${k}`, priority: 10 });
    const e = s.pop();
    if (e === undefined) throw new TypeError("queue ran dry");
    if (e.id === "low") return { waitMs: clock.now() - t0, overtakers };
    overtakers.push((e.enqueuedAt ?? Number(e.id.slice(2)) * opts.intervalMs + t0) - t0);
  }
  throw new TypeError("low-priority entry never popped");
}

describe("starvation bound", () => {
  it("default rate: a priority-0 entry under a priority-10 flood pops at exactly 100 s", () => {
    const bound = starvationBoundSeconds(0, DEFAULT_AGING_RATE) * 1000;
    expect(bound).toBe(100_000);
    for (const start of [0, 1_700_000_000_000]) {
      const r = flood({ start, priority: 0, agingRate: DEFAULT_AGING_RATE, intervalMs: 100 });
      // Within the bound, and not earlier than the bound minus one pop interval: the bound is tight.
      expect(r.waitMs).toBeLessThanOrEqual(bound);
      expect(r.waitMs).toBeGreaterThan(bound - 100);
      expect(r.overtakers).toHaveLength(999);
      expect(Math.max(...r.overtakers)).toBeLessThan(bound);
    }
  });

  it("entries already waiting pop first, but nothing ready after the bound overtakes", () => {
    const r = flood({ start: 1_700_000_000_000, priority: 0, agingRate: DEFAULT_AGING_RATE, intervalMs: 100, backlog: 50 });
    expect(r.overtakers.filter((t) => t < 0)).toHaveLength(50); // the backlog, ready before it
    expect(Math.max(...r.overtakers)).toBeLessThan(100_000);
    expect(r.overtakers).toHaveLength(50 + 999);
  });

  it("any priority, rate and pop interval: pops at the first pop at or after the bound", () => {
    console.log(`fast-check seed ${SEED}`);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 9 }),
        fc.constantFrom(0.1, 0.125, 0.5, 1, 2),
        fc.integer({ min: 7, max: 2_000 }),
        (priority, agingRate, intervalMs) => {
          const bound = starvationBoundSeconds(priority, agingRate) * 1000;
          const r = flood({ start: 1_700_000_000_000, priority, agingRate, intervalMs });
          expect(r.waitMs).toBeGreaterThanOrEqual(bound);
          expect(r.waitMs).toBeLessThan(bound + intervalMs);
          for (const t of r.overtakers) expect(t).toBeLessThan(bound);
        },
      ),
      { seed: SEED, numRuns: 60 },
    );
  });

  it("with agingRate 0 the bound is infinite and the flood starves priority 0", () => {
    expect(starvationBoundSeconds(0, 0)).toBe(Number.POSITIVE_INFINITY);
    const clock = new ManualClock(0);
    const s = new PriorityScheduler({ clock, agingRate: 0 });
    s.push({ id: "low", priority: 0 });
    for (let k = 0; k < 10_000; k++) {
      clock.advance(100);
      s.push({ id: `hi${k}`, priority: 10 });
      expect(s.pop()?.id).toBe(`hi${k}`);
    }
    expect(s.pop()?.id).toBe("low"); // runs once the flood stops
  });
});
