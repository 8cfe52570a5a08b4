// Model-based test: random interleavings of push / pop / remove / time advances must match a
// reference that sorts the ready entries by effective priority at pop time.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ManualClock } from "@pyrexis/models";
import { PriorityScheduler } from "../src/index.js";

const SEED = Number(process.env["FC_SEED"] ?? 20_251_126);
const T0 = 1_700_000_000_000;

interface RefEntry {
  id: string;
  priority: number;
  readyAt: number;
  runAt: number | undefined;
  seq: number;
}

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
): fc.IPropertyWithHooks<[Cmd[]]> {
  const secs = (max: number) => fc.integer({ min: 0, max }).map((n) => n * stepMs);
  const cmd: fc.Arbitrary<Cmd> = fc.oneof(
    {
      arbitrary: fc.record({
        kind: fc.constant("push" as const),
        priority: fc.integer({ min: 0, max: 10 }),
        back: fc.option(secs(200), { nil: undefined }),
        delay: fc.option(fc.integer({ min: -20, max: 60 }).map((n) => n * stepMs), { nil: undefined }),
      }),
      weight: 4,
    },
    { arbitrary: fc.constant({ kind: "pop" as const }), weight: 3 },
    { arbitrary: fc.record({ kind: fc.constant("remove" as const), pick: fc.nat() }), weight: 1 },
    { arbitrary: fc.record({ kind: fc.constant("advance" as const), ms: secs(30) }), weight: 2 },
  );
  return fc.property(fc.array(cmd, { maxLength: 120 }), (cmds) => {
    const clock = new ManualClock(T0);
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
          ref.push({ id, priority: c.priority, readyAt: Math.max(enqueuedAt ?? now, runAt ?? 0), runAt, seq: seq++ });
          ids.push(id);
          break;
        }
        case "pop": {
          let best: RefEntry | undefined;
          let bestEff = 0;
          for (const e of ref) {
            if (e.runAt !== undefined && e.runAt > now) continue;
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
          clock.advance(c.ms);
          break;
      }
      const t = clock.now();
      const delayed = ref.filter((e) => e.runAt !== undefined && e.runAt > t);
      expect(s.size).toBe(ref.length);
      expect(s.readyCount).toBe(ref.length - delayed.length);
      expect(s.nextRunAt()).toBe(delayed.length ? Math.min(...delayed.map((e) => e.runAt as number)) : undefined);
      for (const e of ref) expect(s.has(e.id)).toBe(true);
    }
  });
}

describe("PriorityScheduler matches the reference model", () => {
  console.log(`fast-check seed ${SEED} (set FC_SEED to reproduce another)`);
  const opts = { seed: SEED, numRuns: 300 };

  it("agingRate 0.125, whole seconds (exact float oracle)", () => {
    fc.assert(runModel(0.125, 1_000, (p, readyAt, now) => p + (0.125 * (now - readyAt)) / 1000), opts);
  });

  it("agingRate 0.5, whole seconds (exact float oracle)", () => {
    fc.assert(runModel(0.5, 1_000, (p, readyAt, now) => p + (0.5 * (now - readyAt)) / 1000), opts);
  });

  it("default agingRate 0.1, millisecond steps (oracle in exact integer ms: effective × 10 000)", () => {
    fc.assert(runModel(0.1, 1, (p, readyAt, now) => p * 10_000 + (now - readyAt)), opts);
  });

  it("default agingRate 0.1, whole seconds near the tie points (1 point = 10 s)", () => {
    fc.assert(runModel(0.1, 1_000, (p, readyAt, now) => p * 10_000 + (now - readyAt)), opts);
  });

  it("agingRate 0: pure priority order, FIFO among equals", () => {
    fc.assert(runModel(0, 1_000, (p) => p), opts);
  });
});

describe("at scale (typed-array growth and shrink)", () => {
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
