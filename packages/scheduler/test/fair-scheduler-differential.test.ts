// FairScheduler (groups in heaps, O(log groups) a pop) against the linear scan it replaced
// (test/reference/fair-scheduler-linear.ts), on the same random operation sequences: every
// output must be identical, including which lane heads `popWhere` offers to `accept` and in what
// order, `groupSizes` key order, what a group remembers after it empties, and dispatches charged
// without queuing (`charge`). Seeded (print: FC_SEED); any difference is a bug in the new one, since the old one is what the README's
// guarantees were proven on.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ManualClock } from "@pyrexis/models";
import { FairScheduler, type FairEntry } from "../src/index.js";
import { FairSchedulerLinear } from "./reference/fair-scheduler-linear.js";

const SEED = Number(process.env["FC_SEED"] ?? 20_251_203);
const T0 = 1_700_000_000_000;
const LANES = ["", "openai", "gpu"];
// Fractions give finish tags that are not integers (and sums that round), equal weights many ties.
const WEIGHTS = [1, 1, 1, 2, 3, 0.5, 0.25, 1.5, 7, 1_000_000];

interface Entry extends FairEntry {
  /** Index of its group (for refusals by group); `-1` for the default group. */
  readonly gi: number;
}

type Command =
  | { t: "push"; group: number; lane: number; priority: number; ago: number; delay: number; plain: boolean }
  | { t: "pop" }
  | { t: "popWhere"; groupMask: number; lane: number; every: number }
  | { t: "peek" }
  | { t: "remove"; pick: number }
  | { t: "charge"; group: number }
  | { t: "advance"; ms: number }
  | { t: "inspect" };

const pushOf = (groups: number): fc.Arbitrary<Command> =>
  fc.record({
    t: fc.constant("push" as const),
    // `groups` stands for "no group": the default group "".
    group: fc.nat(groups),
    lane: fc.nat(LANES.length - 1),
    priority: fc.integer({ min: 0, max: 10 }),
    ago: fc.nat(300_000),
    // Mostly ready; some delayed up to 2 minutes.
    delay: fc.oneof({ weight: 4, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.nat(120_000) }),
    // No group and lane fields at all (not `undefined`-valued ones).
    plain: fc.boolean(),
  });

const commandOf = (groups: number): fc.Arbitrary<Command> =>
  fc.oneof(
    { weight: 6, arbitrary: pushOf(groups) },
    { weight: 3, arbitrary: fc.constant({ t: "pop" as const }) },
    {
      weight: 3,
      arbitrary: fc.record({
        t: fc.constant("popWhere" as const),
        groupMask: fc.nat(),
        lane: fc.nat(LANES.length), // LANES.length: refuse no lane
        every: fc.nat(3), // k > 0: only every (k+1)-th offer may be taken, a stateful refusal
      }),
    },
    { weight: 1, arbitrary: fc.constant({ t: "peek" as const }) },
    { weight: 2, arbitrary: fc.record({ t: fc.constant("remove" as const), pick: fc.nat(1_000) }) },
    { weight: 1, arbitrary: fc.record({ t: fc.constant("advance" as const), ms: fc.nat(60_000) }) },
    { weight: 1, arbitrary: fc.constant({ t: "inspect" as const }) },
    // A dispatch made without queuing (the engine's jobs that start at once); `groups`: no group.
    { weight: 1, arbitrary: fc.record({ t: fc.constant("charge" as const), group: fc.nat(groups) }) },
  );

interface Config {
  /** Weight of group i, or `undefined` for the default. */
  readonly weights: readonly (number | undefined)[];
  readonly defaultWeight: number | undefined;
  readonly agingRate: number;
}

const setup: fc.Arbitrary<Config> = fc.record({
  weights: fc.array(fc.option(fc.constantFrom(...WEIGHTS), { nil: undefined }), { minLength: 64, maxLength: 64 }),
  defaultWeight: fc.option(fc.constantFrom(...WEIGHTS), { nil: undefined }),
  agingRate: fc.constantFrom(0, 0.1, 0.125, 1),
});

/** Runs `commands` on both schedulers, asserting after each that they agree. */
function runBoth(commands: readonly Command[], groups: number, config: Config): void {
  const name = (g: number): string => `tenant-${String(g).padStart(4, "0")}-0000-7000-8000-000000000000`;
  const weights: Record<string, number> = {};
  config.weights.forEach((w, g) => {
    if (w !== undefined) weights[name(g)] = w;
  });
  const clock = new ManualClock(T0);
  const options = { clock, agingRate: config.agingRate, weights, defaultWeight: config.defaultWeight };
  const next = new FairScheduler<Entry>(options);
  const ref = new FairSchedulerLinear<Entry>(options);
  const ids: string[] = [];
  let n = 0;
  for (const c of commands) {
    switch (c.t) {
      case "push": {
        const id = `0190${String(n++).padStart(4, "0")}-0000-7000-8000-000000000000`;
        const base = {
          id,
          priority: c.priority,
          enqueuedAt: clock.now() - c.ago,
          ...(c.delay > 0 ? { runAt: clock.now() + c.delay } : {}),
        };
        const e: Entry =
          c.group === groups
            ? { ...base, gi: -1, ...(c.plain ? {} : { group: undefined, lane: LANES[c.lane] }) }
            : c.plain
              ? { ...base, gi: c.group, group: name(c.group) }
              : { ...base, gi: c.group, group: name(c.group), lane: LANES[c.lane] };
        next.push(e);
        ref.push(e);
        ids.push(id);
        break;
      }
      case "pop":
        expect(next.pop()?.id).toBe(ref.pop()?.id);
        break;
      case "popWhere": {
        // The same refusal rule for both, logging every head offered: the visit order must match,
        // not just the entry taken.
        const accept = (offered: string[]) => {
          let offers = 0;
          return (e: Entry): boolean => {
            offered.push(e.id);
            offers++;
            if (c.every > 0 && offers % (c.every + 1) !== 0) return false;
            if (e.gi >= 0 && e.gi < 31 && (c.groupMask >>> e.gi) & 1) return false;
            return (e.lane ?? "") !== LANES[c.lane];
          };
        };
        const offeredNext: string[] = [];
        const offeredRef: string[] = [];
        expect(next.popWhere(accept(offeredNext))?.id).toBe(ref.popWhere(accept(offeredRef))?.id);
        expect(offeredNext).toEqual(offeredRef);
        break;
      }
      case "peek":
        expect(next.peek()?.id).toBe(ref.peek()?.id);
        break;
      case "remove": {
        const id = c.pick < ids.length ? (ids[ids.length - 1 - c.pick] as string) : "no-such-id";
        expect(next.remove(id)).toBe(ref.remove(id));
        expect(next.has(id)).toBe(ref.has(id));
        break;
      }
      case "charge": {
        const group = c.group === groups ? undefined : name(c.group);
        next.charge(group);
        ref.charge(group);
        break;
      }
      case "advance":
        clock.advance(c.ms);
        break;
      case "inspect":
        expect(next.readyCount).toBe(ref.readyCount);
        expect(next.nextRunAt()).toBe(ref.nextRunAt());
        // Entries, not toEqual of the records: the key order must match too.
        expect(Object.entries(next.groupSizes())).toEqual(Object.entries(ref.groupSizes()));
        break;
    }
    expect(next.size).toBe(ref.size);
  }
  // Drained in the same order, whatever is left.
  clock.advance(1_000_000);
  for (let e = ref.pop(); e !== undefined; e = ref.pop()) expect(next.pop()?.id).toBe(e.id);
  expect(next.pop()).toBeUndefined();
  expect(next.size).toBe(0);
}

describe("FairScheduler against the linear scan it replaced (differential, fast-check)", () => {
  it("few groups: every pop, refused pop, offer, peek, remove and count agrees", () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 12 })
          .chain((groups) => fc.tuple(fc.constant(groups), fc.array(commandOf(groups), { maxLength: 300, size: "max" }), setup)),
        ([groups, commands, config]) => runBoth(commands, groups, config),
      ),
      { seed: SEED, numRuns: 400 },
    );
  });

  // A backlog first, so that enough groups are active for the heaps (64), then a mix that drains
  // it below the scan's threshold (32) and may fill it again: both ways and the switches between.
  it("many groups (up to 150; heaps, the scan and the switches between them; long runs): the same", () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 13, max: 150 })
          .chain((groups) =>
            fc.tuple(
              fc.constant(groups),
              fc.array(pushOf(groups), { minLength: groups, maxLength: 3 * groups }),
              fc.array(commandOf(groups), { minLength: 500, maxLength: 2_000 }),
              setup,
            ),
          ),
        ([groups, backlog, commands, config]) => runBoth([...backlog, ...commands], groups, config),
      ),
      { seed: SEED, numRuns: 40 },
    );
  });

  // Bursts of pushes to many groups, then mixes that drain them: the active count crosses both
  // thresholds again and again, with refused groups off their heaps when a dispatch switches.
  it("bursts across the switch thresholds (up to 150 groups): the same", () => {
    const groups = 150;
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.array(pushOf(groups), { minLength: 20, maxLength: 90 }), fc.array(commandOf(groups), { maxLength: 150 })), {
          minLength: 3,
          maxLength: 12,
        }),
        setup,
        (blocks, config) => runBoth(blocks.flat(2), groups, config),
      ),
      { seed: SEED, numRuns: 60 },
    );
  });

  it("1,000 backlogged groups, then a mix: the same over 11,000 operations", () => {
    const groups = 1_000;
    const commands: Command[] = [];
    for (let g = 0; g < groups; g++) {
      for (let i = 0; i < 3; i++)
        commands.push({ t: "push", group: g, lane: i % 2, priority: (g * 7 + i) % 11, ago: (g * 13) % 1000, delay: 0, plain: false });
    }
    const mix = fc.sample(fc.array(commandOf(groups), { minLength: 8_000, maxLength: 8_000 }), { seed: SEED, numRuns: 1 })[0] as Command[];
    runBoth([...commands, ...mix], groups, {
      weights: Array.from({ length: 64 }, (_, i) => WEIGHTS[i % WEIGHTS.length]),
      defaultWeight: 1,
      agingRate: 0.1,
    });
  });
});
