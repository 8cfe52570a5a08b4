// The rate part of a limit, alone: with fake time, a greedy dispatcher that always has work
// waiting starts each job at the time the log says it fits. No window of `perMs` may ever hold more
// than `units`, and the log must not waste room (utilisation ≥ 95 % while work waits).
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { SlidingWindowLog } from "../src/flow-control/sliding-window.js";

const SEED = Number(process.env["FC_SEED"] ?? 20_251_202);

/** The largest sum of admissions in any window [s, s + perMs): it is reached by a window starting at an admission. */
function maxWindowSum(admissions: readonly { at: number; units: number }[], perMs: number): number {
  let max = 0;
  let sum = 0;
  let j = 0;
  for (let i = 0; i < admissions.length; i++) {
    while (j < admissions.length && (admissions[j] as { at: number }).at < (admissions[i] as { at: number }).at + perMs) {
      sum += (admissions[j] as { units: number }).units;
      j++;
    }
    max = Math.max(max, sum);
    sum -= (admissions[i] as { units: number }).units;
  }
  return max;
}

describe("SlidingWindowLog", () => {
  it("90,000 units / 60 s, weights 200–8,000: no window exceeds the limit, utilisation ≥ 95 % (fast-check, fake time)", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 200, max: 8000 }), { minLength: 400, maxLength: 800 }), fc.nat(59_999), (weights, t0) => {
        const perMs = 60_000;
        const log = new SlidingWindowLog(90_000, perMs);
        const admissions: { at: number; units: number }[] = [];
        let now = t0;
        for (const w of weights) {
          now = log.fitsAt(w, now);
          log.take(w, now);
          admissions.push({ at: now, units: w });
        }
        expect(maxWindowSum(admissions, perMs)).toBeLessThanOrEqual(90_000);
        // Utilisation over the whole windows in which work was waiting.
        const windows = Math.floor((now - t0) / perMs);
        if (windows >= 1) {
          const end = t0 + windows * perMs;
          const used = admissions.filter((a) => a.at < end).reduce((s, a) => s + a.units, 0);
          expect(used / (windows * 90_000)).toBeGreaterThanOrEqual(0.95);
        }
      }),
      { seed: SEED, numRuns: 100 },
    );
  });

  it("charges: a credit makes room at once, a debit delays the next admission, and windows hold with credits (fast-check)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ reserve: fc.integer({ min: 1, max: 500 }), used: fc.integer({ min: 0, max: 500 }), gap: fc.nat(3000) }), {
          minLength: 1,
          maxLength: 300,
        }),
        (calls) => {
          const perMs = 10_000;
          const log = new SlidingWindowLog(1000, perMs);
          const admissions: { at: number; units: number }[] = [];
          let now = 0;
          for (const c of calls) {
            now = log.fitsAt(c.reserve, now + c.gap);
            const entry = log.take(c.reserve, now);
            // Only credits: the guarantee is about what was admitted, and a credit only lowers it.
            const real = Math.min(c.used, c.reserve);
            log.adjust(entry, real);
            admissions.push({ at: now, units: real });
            expect(log.used(now)).toBe(admissions.filter((a) => a.at > now - perMs).reduce((s, a) => s + a.units, 0));
          }
          expect(maxWindowSum(admissions, perMs)).toBeLessThanOrEqual(1000);
        },
      ),
      { seed: SEED, numRuns: 200 },
    );
  });

  it("a debit above the reservation is counted where it was admitted: nothing more fits until it leaves the window", () => {
    const log = new SlidingWindowLog(100, 1000);
    const e = log.take(10, 0);
    log.adjust(e, 150); // the call used more than the whole limit
    expect(log.fitsAt(1, 0)).toBe(1000);
    expect(log.fitsAt(1, 999)).toBe(1000);
    expect(log.fitsAt(100, 1000)).toBe(1000);
    log.adjust(e, 5); // a late correction after it left the window changes nothing
    expect(log.used(1000)).toBe(0);
  });

  it("knows the exact time a weight fits (the engine arms one timer for it)", () => {
    const log = new SlidingWindowLog(100, 1000);
    log.take(60, 0);
    log.take(30, 400);
    expect(log.fitsAt(10, 500)).toBe(500);
    expect(log.fitsAt(11, 500)).toBe(1000); // the 60 must leave: at 0 + 1000
    expect(log.fitsAt(80, 500)).toBe(1400); // both must leave
    expect(log.fitsAt(101, 500)).toBe(Number.POSITIVE_INFINITY);
  });
});
