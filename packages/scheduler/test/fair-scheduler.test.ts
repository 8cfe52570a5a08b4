// FairScheduler: random interleavings of push / pop / popWhere / remove / time advances must match
// a reference model written for clarity (every ready entry in one array, sorted at each pop), and
// the fairness guarantees the README states are checked as properties of long runs.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { DuplicateJobError, ManualClock, ValidationError } from "@pyrexis/models";
import { FairScheduler, PriorityScheduler, type FairEntry } from "../src/index.js";

const SEED = Number(process.env["FC_SEED"] ?? 20_251_202);
const T0 = 1_700_000_000_000;
const RATE = 0.1;

interface Entry extends FairEntry {
  readonly id: string;
  readonly priority: number;
  readonly enqueuedAt: number;
  readonly group: string;
  readonly lane: string;
}

/** The reference: start-time fair queuing over groups, aging order within, lanes held when refused. */
class Model {
  readonly entries: { e: Entry; seq: number }[] = [];
  readonly groups = new Map<string, { finish: number; stamp: number; lanes: string[] }>();
  virtual = 0;
  stamp = 0;
  seq = 0;
  constructor(readonly weights: Record<string, number>) {}

  push(e: Entry): void {
    let g = this.groups.get(e.group);
    // An idle group whose tag V has passed is forgotten: it comes back as a new group.
    if (g && g.finish <= this.virtual && !this.entries.some((x) => x.e.group === e.group)) {
      this.groups.delete(e.group);
      g = undefined;
    }
    if (!g) {
      g = { finish: 0, stamp: ++this.stamp, lanes: [] };
      this.groups.set(e.group, g);
    }
    if (!g.lanes.includes(e.lane)) g.lanes.push(e.lane);
    this.entries.push({ e, seq: this.seq++ });
  }

  key(e: Entry): number {
    return e.priority * (1000 / RATE) - e.enqueuedAt;
  }

  popWhere(accept: (e: Entry) => boolean): Entry | undefined {
    const groupNames = [...new Set(this.entries.map((x) => x.e.group))];
    const start = (name: string): number => Math.max(this.groups.get(name)!.finish, this.virtual);
    groupNames.sort((a, b) => start(a) - start(b) || this.groups.get(a)!.stamp - this.groups.get(b)!.stamp);
    for (const name of groupNames) {
      const g = this.groups.get(name)!;
      // The head of each lane: best key, then FIFO.
      const heads: { e: Entry; seq: number }[] = [];
      for (const lane of g.lanes) {
        const inLane = this.entries.filter((x) => x.e.group === name && x.e.lane === lane);
        inLane.sort((a, b) => this.key(b.e) - this.key(a.e) || a.seq - b.seq);
        if (inLane[0]) heads.push(inLane[0]);
      }
      heads.sort((a, b) => this.key(b.e) - this.key(a.e) || g.lanes.indexOf(a.e.lane) - g.lanes.indexOf(b.e.lane));
      for (const h of heads) {
        if (!accept(h.e)) continue;
        this.entries.splice(this.entries.indexOf(h), 1);
        const s = start(name);
        this.virtual = s;
        g.finish = s + 1 / (this.weights[name] ?? 1);
        g.stamp = ++this.stamp;
        if (!this.entries.some((x) => x.e.group === name) && g.finish <= this.virtual) this.groups.delete(name);
        return h.e;
      }
    }
    return undefined;
  }

  remove(id: string): boolean {
    const i = this.entries.findIndex((x) => x.e.id === id);
    if (i < 0) return false;
    const name = this.entries[i]!.e.group;
    this.entries.splice(i, 1);
    const g = this.groups.get(name)!;
    if (!this.entries.some((x) => x.e.group === name) && g.finish <= this.virtual) this.groups.delete(name);
    return true;
  }
}

type Command =
  | { t: "push"; group: number; lane: number; priority: number; ago: number }
  | { t: "pop" }
  | { t: "popWhere"; refuse: number }
  | { t: "remove"; pick: number }
  | { t: "advance"; ms: number };

const GROUPS = ["a", "b", "c", "d"];
const LANES = ["", "openai", "gpu"];

const command: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      t: fc.constant("push" as const),
      group: fc.nat(3),
      lane: fc.nat(2),
      priority: fc.integer({ min: 0, max: 10 }),
      ago: fc.nat(300_000),
    }),
  },
  { weight: 3, arbitrary: fc.constant({ t: "pop" as const }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("popWhere" as const), refuse: fc.nat(2) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("remove" as const), pick: fc.nat(50) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("advance" as const), ms: fc.nat(60_000) }) },
);

describe("FairScheduler against the reference model", () => {
  it("pops, refused pops and removes agree with the model for any interleaving (fast-check)", () => {
    fc.assert(
      fc.property(
        fc.array(command, { maxLength: 150, size: "max" }),
        fc.record({ a: fc.integer({ min: 1, max: 5 }), b: fc.integer({ min: 1, max: 5 }) }),
        (commands, weights) => {
          const clock = new ManualClock(T0);
          const s = new FairScheduler<Entry>({ clock, agingRate: RATE, weights });
          const m = new Model(weights);
          let n = 0;
          const ids: string[] = [];
          for (const c of commands) {
            switch (c.t) {
              case "push": {
                const e: Entry = {
                  id: `e${n++}`,
                  priority: c.priority,
                  enqueuedAt: clock.now() - c.ago,
                  group: GROUPS[c.group]!,
                  lane: LANES[c.lane]!,
                };
                s.push(e);
                m.push(e);
                ids.push(e.id);
                break;
              }
              case "pop":
                expect(s.pop()?.id).toBe(m.popWhere(() => true)?.id);
                break;
              case "popWhere": {
                // Refuses one lane's heads, as a limit without room would.
                const refused = LANES[c.refuse]!;
                expect(s.popWhere((e) => e.lane !== refused)?.id).toBe(m.popWhere((e) => e.lane !== refused)?.id);
                break;
              }
              case "remove": {
                const id = ids[c.pick % Math.max(1, ids.length)] ?? "none";
                expect(s.remove(id)).toBe(m.remove(id));
                break;
              }
              case "advance":
                clock.advance(c.ms);
                break;
            }
            expect(s.size).toBe(m.entries.length);
          }
        },
      ),
      { seed: SEED, numRuns: 300 },
    );
  });
});

describe("FairScheduler guarantees", () => {
  it("backlogged groups weighted 3:2:1 get dispatch shares within ±5 % over any prefix of 60+ pops", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 60, max: 3000 }),
        fc.array(fc.integer({ min: 0, max: 10 }), { minLength: 1, maxLength: 20 }),
        (pops, priorities) => {
          const weights = { a: 3, b: 2, c: 1 };
          const s = new FairScheduler<Entry>({ clock: new ManualClock(T0), weights });
          for (const group of ["a", "b", "c"]) {
            for (let i = 0; i < pops; i++) {
              s.push({ id: `${group}${i}`, group, lane: "", priority: priorities[i % priorities.length]!, enqueuedAt: T0 - i });
            }
          }
          const count: Record<string, number> = { a: 0, b: 0, c: 0 };
          for (let i = 1; i <= pops; i++) {
            count[s.pop()!.group]!++;
            // Stride bound: n_g / w_g differ by at most one dispatch's cost at any point.
            const norm = Object.entries(weights).map(([g, w]) => count[g]! / w);
            expect(Math.max(...norm) - Math.min(...norm)).toBeLessThanOrEqual(1 + 1e-9);
          }
          for (const [g, w] of Object.entries(weights)) expect(Math.abs(count[g]! / pops - w / 6)).toBeLessThanOrEqual(0.05);
        },
      ),
      { seed: SEED, numRuns: 20 },
    );
  });

  it("a new group's first entry pops within one round behind a group with a 10,000-entry backlog", () => {
    const s = new FairScheduler<Entry>({ clock: new ManualClock(T0) });
    for (let i = 0; i < 10_000; i++) s.push({ id: `a${i}`, group: "A", lane: "", priority: 10, enqueuedAt: T0 - 10_000 + i });
    for (let i = 0; i < 500; i++) s.pop(); // A has been served for a while
    s.push({ id: "b0", group: "B", lane: "", priority: 0, enqueuedAt: T0 });
    expect(s.pop()?.id).toBe("b0");
  });

  it("with k other groups ready, a new group waits for at most one dispatch of each (fast-check)", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 6 }), fc.nat(200), (weights, served) => {
        const w: Record<string, number> = {};
        weights.forEach((x, i) => (w[`g${i}`] = x));
        const s = new FairScheduler<Entry>({ clock: new ManualClock(T0), weights: w });
        for (const g of Object.keys(w))
          for (let i = 0; i < 300; i++) s.push({ id: `${g}-${i}`, group: g, lane: "", priority: 5, enqueuedAt: T0 });
        for (let i = 0; i < served; i++) s.pop();
        s.push({ id: "new", group: "fresh", lane: "", priority: 0, enqueuedAt: T0 });
        const before: string[] = [];
        for (let e = s.pop(); e && e.id !== "new"; e = s.pop()) before.push(e.group);
        expect(before.length).toBeLessThanOrEqual(weights.length);
        expect(new Set(before).size).toBe(before.length); // no group twice
      }),
      { seed: SEED, numRuns: 200 },
    );
  });

  it("within one group the order is PriorityScheduler's: priority with aging, FIFO on ties (fast-check)", () => {
    fc.assert(
      fc.property(fc.array(fc.record({ priority: fc.integer({ min: 0, max: 10 }), ago: fc.nat(500_000) }), { maxLength: 200 }), (specs) => {
        const clock = new ManualClock(T0);
        const fair = new FairScheduler<Entry>({ clock });
        const plain = new PriorityScheduler<Entry>({ clock });
        specs.forEach((x, i) => {
          const e: Entry = { id: `e${i}`, group: "only", lane: "", priority: x.priority, enqueuedAt: T0 - x.ago };
          fair.push(e);
          plain.push(e);
        });
        for (let i = 0; i < specs.length; i++) expect(fair.pop()?.id).toBe(plain.pop()?.id);
      }),
      { seed: SEED, numRuns: 200 },
    );
  });

  it("a refused lane holds only itself: the group's other lanes and other groups go on", () => {
    const s = new FairScheduler<Entry>({ clock: new ManualClock(T0) });
    s.push({ id: "big", group: "A", lane: "openai", priority: 10, enqueuedAt: T0 - 1000 });
    s.push({ id: "small", group: "A", lane: "openai", priority: 10, enqueuedAt: T0 });
    s.push({ id: "local", group: "A", lane: "", priority: 0, enqueuedAt: T0 });
    s.push({ id: "other", group: "B", lane: "", priority: 0, enqueuedAt: T0 });
    const noOpenai = (e: Entry): boolean => e.lane !== "openai";
    const got = [s.popWhere(noOpenai)?.id, s.popWhere(noOpenai)?.id, s.popWhere(noOpenai)?.id];
    expect(got.sort()).toEqual(["local", "other", undefined].sort());
    // "small" never passed "big": the lane keeps its order.
    expect(s.pop()?.id).toBe("big");
  });

  it("tenants that come and go are forgotten: 20,000 of them, one job each, leave a bounded state", () => {
    const s = new FairScheduler<Entry>({ clock: new ManualClock(T0) });
    // A steady tenant keeps V moving while short-lived ones pass through.
    let steady = 0;
    const pushSteady = (): void => s.push({ id: `s${steady++}`, group: "steady", lane: "", priority: 0, enqueuedAt: T0 });
    pushSteady();
    let most = 0;
    for (let i = 0; i < 20_000; i++) {
      s.push({ id: `t${i}`, group: `tenant-${i}`, lane: "", priority: 0, enqueuedAt: T0 });
      pushSteady();
      s.pop();
      s.pop();
      most = Math.max(most, s.knownGroups);
    }
    expect(s.size).toBe(1);
    expect(most).toBeLessThanOrEqual(2 * 1024 + 2);
  });

  it("a forgotten tenant that comes back is served as a new group: within one round behind a backlog", () => {
    const s = new FairScheduler<Entry>({ clock: new ManualClock(T0) });
    s.push({ id: "b0", group: "B", lane: "", priority: 0, enqueuedAt: T0 });
    expect(s.pop()?.id).toBe("b0");
    for (let i = 0; i < 1000; i++) s.push({ id: `a${i}`, group: "A", lane: "", priority: 0, enqueuedAt: T0 });
    for (let i = 0; i < 10; i++) s.pop(); // V passes B's tag while B is idle
    s.push({ id: "b1", group: "B", lane: "", priority: 0, enqueuedAt: T0 });
    expect([s.pop()?.id, s.pop()?.id]).toContain("b1");
  });
});

describe("FairScheduler bad input", () => {
  it("refuses bad weights with a ValidationError naming the group, and duplicate ids across lanes", () => {
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, "3", 2_000_000]) {
      const e = (() => {
        try {
          new FairScheduler({ weights: { "tenant-a": bad as number } });
        } catch (error) {
          return error;
        }
        return undefined;
      })();
      expect(e).toBeInstanceOf(ValidationError);
      expect((e as ValidationError).issues[0]?.path).toEqual(["weights", "tenant-a"]);
    }
    expect(() => new FairScheduler({ defaultWeight: 0 })).toThrow(ValidationError);
    const s = new FairScheduler<Entry>();
    s.push({ id: "x", group: "A", lane: "", priority: 1, enqueuedAt: T0 });
    expect(() => s.push({ id: "x", group: "A", lane: "gpu", priority: 1, enqueuedAt: T0 })).toThrow(DuplicateJobError);
    expect(s.size).toBe(1);
  });
});
