import { createJob, parseJobSpec, seededRandom, type Job, type JobLimit } from "@pyrexis/models";
import { describe, expect, it } from "vitest";
import { checkFlowClaimRequest, planFlowClaim, type FlowPassedOver, type FlowPlan, type FlowReader } from "../src/kit.js";

const NOW = 1_700_000_000_000;
const KEYS = ["a", "b", "c"] as const;

interface World {
  readonly groups: Map<string, Job[]>;
  readonly window: Map<string, number>;
  readonly running: Map<string, number>;
}

/** Random limits (rate, cap or both on each key), queues of jobs in 1–3 groups, window sums and running counts. */
function world(random: () => number): {
  world: World;
  limits: Record<string, { rate?: { units: number; perMs: number }; maxConcurrent?: number }>;
} {
  const int = (lo: number, hi: number): number => lo + Math.floor(random() * (hi - lo + 1));
  const limits: Record<string, { rate?: { units: number; perMs: number }; maxConcurrent?: number }> = {};
  const window = new Map<string, number>();
  const running = new Map<string, number>();
  for (const key of KEYS) {
    const kind = int(0, 3); // 0: not defined by the claim, 1: rate, 2: cap, 3: both
    if (kind === 0) continue;
    const units = int(3, 12);
    limits[key] = {
      ...(kind !== 2 ? { rate: { units, perMs: 1000 } } : {}),
      ...(kind !== 1 ? { maxConcurrent: int(1, 4) } : {}),
    };
    window.set(key, int(0, units));
    running.set(key, int(0, 4));
  }
  const groups = new Map<string, Job[]>();
  for (let g = 0; g < int(1, 3); g++) {
    const jobs: Job[] = [];
    for (let i = 0; i < int(0, 120); i++) {
      const jobLimits: JobLimit[] = [];
      for (const key of KEYS) if (random() < 0.4) jobLimits.push({ key, units: int(1, 14) });
      jobs.push(createJob(parseJobSpec({ handler: "h", ...(jobLimits.length > 0 ? { limits: jobLimits } : {}) }), NOW));
    }
    groups.set(`g${g}`, jobs);
  }
  return { world: { groups, window, running }, limits };
}

/** A reader over `w`; `passOver`: answers a candidate's limits whenever the planner's test refuses them. */
function reader(w: World, passOver: boolean, passedOver: { n: number }): FlowReader {
  const at = new Map<string, number>();
  return {
    groups: () => w.groups.keys(),
    next: (group, refuses): Job | FlowPassedOver | undefined => {
      const i = at.get(group) ?? 0;
      const job = w.groups.get(group)?.[i];
      if (job === undefined) return undefined;
      at.set(group, i + 1);
      if (passOver && refuses !== undefined && job.limits !== undefined && refuses(job.limits)) {
        passedOver.n++;
        return { passedOver: job.limits };
      }
      return job;
    },
    tag: () => undefined,
    clock: () => ({ virtual: 0, stamp: 0 }),
    windowUnits: (key) => w.window.get(key) ?? 0,
    windowEntries: (key) => [[NOW - 500, w.window.get(key) ?? 0]],
    running: (key) => w.running.get(key) ?? 0,
  };
}

const summary = (plan: FlowPlan): unknown => ({ ...plan, picks: plan.picks.map((p) => ({ id: p.job.id, admissions: p.admissions })) });

describe("planFlowClaim with a reader that passes over refused candidates", () => {
  it("plans exactly as with one that reads every record (500 seeded claims)", () => {
    let passed = 0;
    for (let seed = 1; seed <= 500; seed++) {
      const { world: w, limits } = world(seededRandom(seed));
      const request = checkFlowClaimRequest({ owner: "o", limit: 1 + (seed % 20), leaseMs: 1000, flow: { limits } });
      const counted = { n: 0 };
      const full = planFlowClaim(reader(w, false, { n: 0 }), request, request.limit, NOW);
      const lean = planFlowClaim(reader(w, true, counted), request, request.limit, NOW);
      expect(summary(lean), `seed ${seed}`).toEqual(summary(full));
      passed += counted.n;
    }
    // The property is only worth something if candidates were passed over.
    expect(passed).toBeGreaterThan(1000);
  });

  it("rejects a reader that passes over a candidate the test does not refuse", () => {
    const job = createJob(parseJobSpec({ handler: "h", limits: [{ key: "a", units: 1 }] }), NOW);
    const w: World = { groups: new Map([["", [job]]]), window: new Map(), running: new Map() };
    const bad = { ...reader(w, false, { n: 0 }), next: (): FlowPassedOver => ({ passedOver: [{ key: "a", units: 1 }] }) };
    const request = checkFlowClaimRequest({ owner: "o", limit: 1, leaseMs: 1000, flow: { limits: { a: { maxConcurrent: 1 } } } });
    expect(() => planFlowClaim(bad, request, 1, NOW)).toThrow(/passed over a candidate that fits/);
  });
});
