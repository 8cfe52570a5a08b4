// Model-based test: random interleavings of push / pop / remove / time advances must match a
// reference that sorts the ready entries by effective priority at pop time.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ManualClock, type Clock } from "@pyrexis/models";
import { PriorityScheduler } from "../src/index.js";

const SEED = Number(process.env["FC_SEED"] ?? 20_251_126);
const T0 = 1_700_000_000_000;

interface RefEntry {
  id: string;
  priority: number;
  readyAt: number;
  runAt: number | undefined;
  seq: number;
  /** Seen due by a look at the clock: it stays ready even if the clock later steps back. */
  promoted: boolean;
}

/** A clock the test moves either way (ManualClock refuses to go back). */
class TestClock implements Pick<Clock, "now"> {
  constructor(public t: number) {}
  now(): number {
    return this.t;
  }
}

/** Which commands a run generates, and how often. */
interface Profile {
  /** Priorities drawn from `[min, max]`; few levels make long rings (growth, wrap-around). */
  priorities: [number, number];
  /** Weights of push, pop, remove and advance. */
  weights: [number, number, number, number];
  /** A push lacks an explicit enqueuedAt (0–200 steps in the past) 1 time in `pastFreq` (fc.option's freq). */
  pastFreq: number;
  /** A push lacks a runAt (−20 … 60 steps from now) 1 time in `delayFreq`. */
  delayFreq: number;
  /** Advance steps drawn from `[min, 30]`; a negative min steps the clock back. */
  minAdvance: number;
  maxLength: number;
  /**
   * fast-check's size for the command list. Unset, it is the default "small", which keeps lists to
   * about ten commands whatever maxLength says; "max" draws lengths up to maxLength.
   */
  size?: fc.SizeForArbitrary;
}

/** The generator of the original cases (fc.option's default freq is 6), at full list length. */
const BASIC: Profile = {
  priorities: [0, 10],
  weights: [4, 3, 1, 2],
  pastFreq: 6,
  delayFreq: 6,
  minAdvance: 0,
  maxLength: 120,
  // Lists of up to 120 commands, not fast-check's "small" default of about ten.
  size: "max",
};

type Cmd =
  | { kind: "push"; priority: number; back: number | undefined; delay: number | undefined }
  | { kind: "pop" }
  | { kind: "remove"; pick: number }
  | { kind: "advance"; ms: number };

/**
 * `effective(priority, readyAt, now)` must be computed exactly (it is the oracle): for rates that
 * are dyadic fractions and whole-second times the float formula is exact; for 0.1 the caller
 * passes the same quantity scaled by 10 000 (integer ms arithmetic).
 */
function runModel(
  agingRate: number,
  stepMs: number,
  effective: (priority: number, readyAt: number, now: number) => number,
  profile: Profile = BASIC,
): fc.IPropertyWithHooks<[Cmd[]]> {
  const steps = (min: number, max: number) => fc.integer({ min, max }).map((n) => n * stepMs);
  const [pushW, popW, removeW, advanceW] = profile.weights;
  const cmd: fc.Arbitrary<Cmd> = fc.oneof(
    {
      arbitrary: fc.record({
        kind: fc.constant("push" as const),
        priority: fc.integer({ min: profile.priorities[0], max: profile.priorities[1] }),
        back: fc.option(steps(0, 200), { nil: undefined, freq: profile.pastFreq }),
        delay: fc.option(steps(-20, 60), { nil: undefined, freq: profile.delayFreq }),
      }),
      weight: pushW,
    },
    { arbitrary: fc.constant({ kind: "pop" as const }), weight: popW },
    { arbitrary: fc.record({ kind: fc.constant("remove" as const), pick: fc.nat() }), weight: removeW },
    { arbitrary: fc.record({ kind: fc.constant("advance" as const), ms: steps(profile.minAdvance, 30) }), weight: advanceW },
  );
  return fc.property(fc.array(cmd, { maxLength: profile.maxLength, size: profile.size }), (cmds) => {
    const clock = new TestClock(T0);
    const s = new PriorityScheduler({ clock, agingRate });
    const ref: RefEntry[] = [];
    const ids: string[] = [];
    let seq = 0;
    for (const c of cmds) {
      const now = clock.now();
      switch (c.kind) {
        case "push": {
          const id = `j${seq}`;
          const enqueuedAt = c.back === undefined ? undefined : now - c.back;
          const runAt = c.delay === undefined ? undefined : now + c.delay;
          s.push({ id, priority: c.priority, enqueuedAt, runAt });
          const promoted = runAt === undefined || runAt <= now;
          ref.push({ id, priority: c.priority, readyAt: Math.max(enqueuedAt ?? now, runAt ?? 0), runAt, seq: seq++, promoted });
          ids.push(id);
          break;
        }
        case "pop": {
          let best: RefEntry | undefined;
          let bestEff = 0;
          for (const e of ref) {
            if (!e.promoted) continue;
            const eff = effective(e.priority, e.readyAt, now);
            if (best === undefined || eff > bestEff || (eff === bestEff && e.seq < best.seq)) {
              best = e;
              bestEff = eff;
            }
          }
          if (best !== undefined) ref.splice(ref.indexOf(best), 1);
          expect(s.pop()?.id).toBe(best?.id);
          break;
        }
        case "remove": {
          // Mostly ids that were pushed (queued or already gone), sometimes unknown ones.
          const id = c.pick % 5 === 0 || ids.length === 0 ? `unknown${c.pick}` : (ids[c.pick % ids.length] as string);
          const i = ref.findIndex((e) => e.id === id);
          if (i >= 0) ref.splice(i, 1);
          expect(s.remove(id)).toBe(i >= 0);
          break;
        }
        case "advance":
          clock.t += c.ms;
          break;
      }
      const t = clock.now();
      // readyCount below looks at the clock, so whatever is due now becomes ready for good.
      for (const e of ref) if (!e.promoted && (e.runAt as number) <= t) e.promoted = true;
      const delayed = ref.filter((e) => !e.promoted);
      expect(s.size).toBe(ref.length);
      expect(s.readyCount).toBe(ref.length - delayed.length);
      expect(s.nextRunAt()).toBe(delayed.length ? Math.min(...delayed.map((e) => e.runAt as number)) : undefined);
      expect(ref.filter((e) => !s.has(e.id)).map((e) => e.id)).toEqual([]);
    }
  });
}

describe("PriorityScheduler matches the reference model", () => {
  console.log(`fast-check seed ${SEED} (set FC_SEED to reproduce another)`);
  const opts = { seed: SEED, numRuns: 300 };

  it("agingRate 0.125, whole seconds (exact float oracle)", () => {
    fc.assert(
      runModel(0.125, 1_000, (p, readyAt, now) => p + (0.125 * (now - readyAt)) / 1000),
      opts,
    );
  });

  it("agingRate 0.5, whole seconds (exact float oracle)", () => {
    fc.assert(
      runModel(0.5, 1_000, (p, readyAt, now) => p + (0.5 * (now - readyAt)) / 1000),
      opts,
    );
  });

  it("default agingRate 0.1, millisecond steps (oracle in exact integer ms: effective × 10 000)", () => {
    fc.assert(
      runModel(0.1, 1, (p, readyAt, now) => p * 10_000 + (now - readyAt)),
      opts,
    );
  });

  it("default agingRate 0.1, whole seconds near the tie points (1 point = 10 s)", () => {
    fc.assert(
      runModel(0.1, 1_000, (p, readyAt, now) => p * 10_000 + (now - readyAt)),
      opts,
    );
  });

  it("agingRate 0: pure priority order, FIFO among equals", () => {
    fc.assert(
      runModel(0, 1_000, (p) => p),
      opts,
    );
  });
});

describe("the bucket queue's slow paths match the reference model too", () => {
  // Few levels, many pushes with past enqueuedAt or a runAt, many removals and a clock that also
  // steps back: most entries arrive out of readyAt order (late lanes), removals hit ring heads,
  // middles and tails (tombstones, compaction) and late lanes, promoted entries land behind newer ones.
  const MIXED: Profile = {
    priorities: [3, 5],
    weights: [6, 2, 3, 2],
    pastFreq: 2,
    delayFreq: 3,
    minAdvance: -10,
    maxLength: 300,
    size: "max",
  };
  // One or two levels and long runs that grow faster than they drain: rings grow past their
  // initial 64 cells with the head mid-ring (wrap-around), shrink again, and compact.
  const LONG: Profile = {
    priorities: [6, 7],
    weights: [10, 4, 3, 1],
    pastFreq: 1, // never an explicit enqueuedAt: in order, except delayed entries promoted late
    delayFreq: 4,
    minAdvance: 0,
    maxLength: 1_000,
    size: "max",
  };
  const opts = { seed: SEED, numRuns: 150 };

  it("mixed arrivals, removals and a clock that steps back, agingRate 0.1", () => {
    fc.assert(
      runModel(0.1, 1_000, (p, readyAt, now) => p * 10_000 + (now - readyAt), MIXED),
      opts,
    );
  });

  it("mixed arrivals, removals and a clock that steps back, agingRate 0", () => {
    fc.assert(
      runModel(0, 1_000, (p) => p, MIXED),
      opts,
    );
  });

  it("long rings (growth, wrap-around, shrink, compaction), agingRate 0.1 and 0", () => {
    fc.assert(
      runModel(0.1, 1, (p, readyAt, now) => p * 10_000 + (now - readyAt), LONG),
      { seed: SEED, numRuns: 12 },
    );
    fc.assert(
      runModel(0, 1, (p) => p, LONG),
      { seed: SEED, numRuns: 12 },
    );
  });
});

describe("at scale (typed-array growth and shrink)", () => {
  it("a level's FIFO ring grows, shrinks and compacts with its head anywhere", () => {
    // Phases of in-order pushes, removals (none, 1/4, 1/2 or 3/4 of what is queued: 3/4 forces a
    // compaction) and pops: growth happens with the head mid-ring, drains shrink the ring.
    const phase = fc.tuple(fc.integer({ min: 1, max: 400 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 400 }));
    fc.assert(
      fc.property(fc.array(phase, { minLength: 1, maxLength: 8 }), (phases) => {
        const s = new PriorityScheduler({ clock: new ManualClock(T0), agingRate: 0 });
        let expected: string[] = [];
        let next = 0;
        for (const [pushes, quarters, pops] of phases) {
          for (let i = 0; i < pushes; i++) {
            const id = `e${next++}`;
            s.push({ id, priority: 5 });
            expected.push(id);
          }
          expected = expected.filter((id, i) => {
            if (i % 4 >= quarters) return true;
            expect(s.remove(id)).toBe(true);
            return false;
          });
          expect([s.size, s.readyCount]).toEqual([expected.length, expected.length]);
          for (let i = 0; i < pops && expected.length !== 0; i++) expect(s.pop()?.id).toBe(expected.shift());
        }
        const rest: string[] = [];
        for (let e = s.pop(); e !== undefined; e = s.pop()) rest.push(e.id);
        expect(rest).toEqual(expected);
      }),
      { seed: SEED, numRuns: 100 },
    );
  });

  it("thousands of pushes, removals of ready and delayed entries, then a drain, twice", () => {
    console.log(`fast-check seed ${SEED}`);
    fc.assert(
      fc.property(fc.integer({ min: 1_000, max: 6_000 }), fc.infiniteStream(fc.nat()), (n, rnd) => {
        const clock = new ManualClock(T0);
        const s = new PriorityScheduler({ clock, agingRate: 0.5 });
        for (let round = 0; round < 2; round++) {
          const ref = new Map<string, { p: number; ready: number; seq: number }>();
          for (let i = 0; i < n; i++) {
            const r = rnd.next().value as number;
            const id = `r${round}-${i}`;
            const runAt = r % 4 === 0 ? T0 + 1_000 * (1 + (r % 50)) : undefined;
            s.push({ id, priority: r % 11, runAt });
            ref.set(id, { p: r % 11, ready: Math.max(runAt ?? 0, clock.now()), seq: i });
          }
          for (const id of [...ref.keys()]) {
            if ((rnd.next().value as number) % 3 === 0) {
              expect(s.remove(id)).toBe(true);
              ref.delete(id);
            }
          }
          expect(s.size).toBe(ref.size);
          clock.advance(60_000);
          const key = (e: { p: number; ready: number }) => e.p - 0.5 * (e.ready / 1000); // exact: whole seconds
          const expected = [...ref.entries()].sort(([, a], [, b]) => key(b) - key(a) || a.seq - b.seq).map(([id]) => id);
          const got: string[] = [];
          for (let e = s.pop(); e !== undefined; e = s.pop()) got.push(e.id);
          expect(got).toEqual(expected);
          expect([s.size, s.readyCount]).toEqual([0, 0]);
        }
      }),
      { seed: SEED, numRuns: 10 },
    );
  });
});
