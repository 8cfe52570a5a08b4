// Benchmark: FairScheduler (active groups in two heaps, O(log groups) a pop) against the linear
// scan it replaced (test/reference/fair-scheduler-linear.ts), at 10, 100 and 1,000 groups. Not a
// test. Run: pnpm --filter @pyrexis/scheduler bench:fair (compiles both with one tsc run into
// bench-results/build, so they share one PriorityScheduler module, then runs this).
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { seededRandom } from "@pyrexis/test-utils/random";
import { uuidV7Ids } from "./uuid-ids.mjs";

// Imported by URL: the build output exists only after `bench:fair` compiled it, and typechecking
// this file must not depend on that. The types come from the sources.
/** @type {typeof import("../src/index.js")} */
const { FairScheduler } = await import(new URL("../bench-results/build/src/index.js", import.meta.url).href);
/** @type {typeof import("../test/reference/fair-scheduler-linear.js")} */
const { FairSchedulerLinear } = await import(
  new URL("../bench-results/build/test/reference/fair-scheduler-linear.js", import.meta.url).href
);

const GROUP_COUNTS = [10, 100, 1_000];
/** Entries per group at the start of the backlogged scenarios. */
const DEPTH = 8;
const OPS = 100_000;
const ROUNDS = 7;
const BUDGET_NS = 1.5e9; // a sample stops after this much CPU time (the scan with refusals at 1,000 groups)
const T0 = Date.UTC(2026, 0, 1);
const LOAD_AT_START = loadavg();

// --- deterministic input ---------------------------------------------------------------------
const LARGEST = /** @type {number} */ (GROUP_COUNTS.at(-1));
const MAX_ENTRIES = LARGEST * DEPTH + OPS;
const ids = uuidV7Ids(MAX_ENTRIES, seededRandom(7));
// Group names are UUID-length too: the engine's tenants are whatever ids the user has.
const groupNames = uuidV7Ids(LARGEST, seededRandom(11));
const rand = seededRandom(42);
const priorities = Uint8Array.from({ length: MAX_ENTRIES }, () => Math.floor(rand() * 11));
const targets = Uint32Array.from({ length: OPS }, () => Math.floor(rand() * 2 ** 32));

/** @typedef {{ id: string, priority: number, enqueuedAt: number, group: string, blocked: boolean }} Entry */
/**
 * The entries of one group count: a backlog of DEPTH per group (round-robin), then OPS pushes to
 * random groups. One group in ten is `blocked` (its limit has no room: `popWhere` refuses it).
 * @param {number} groups @returns {Entry[]}
 */
function entriesFor(groups) {
  /** @type {Entry[]} */
  const out = [];
  const backlog = groups * DEPTH;
  for (let i = 0; i < backlog + OPS; i++) {
    const g = i < backlog ? i % groups : /** @type {number} */ (targets[i - backlog]) % groups;
    out.push({
      id: /** @type {string} */ (ids[i]),
      priority: /** @type {number} */ (priorities[i]),
      enqueuedAt: T0 + i,
      group: /** @type {string} */ (groupNames[g]),
      blocked: g % 10 === 9,
    });
  }
  return out;
}

/** @typedef {{ push(e: Entry): void, pop(): Entry | undefined, popWhere(accept: (e: Entry) => boolean): Entry | undefined }} Fair */
/** @type {Record<string, (weights: Record<string, number>) => Fair>} */
const IMPLS = {
  "linear scan (before)": (weights) => new FairSchedulerLinear({ weights }),
  "now (scan below 64 groups, heaps from 64)": (weights) => new FairScheduler({ weights }),
};
/** Every fifth group weighted 3, the rest 1: finish tags that are not all in lockstep. @param {number} groups */
const weightsFor = (groups) => Object.fromEntries(groupNames.slice(0, groups).flatMap((g, i) => (i % 5 === 0 ? [[g, 3]] : [])));

// CPU time of this process (ns), not wall time: the machine is shared.
const now = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
};

// One bound function, as the engine's flow gate passes: refuses the blocked groups' heads.
const acceptUnblocked = (/** @type {Entry} */ e) => !e.blocked;

/** @typedef {{ ops: number, nsPerOp: number, complete: boolean }} Sample */
/** @type {Record<string, (make: () => Fair, entries: Entry[], groups: number) => Sample>} */
const SCENARIOS = {
  // Every group backlogged; pop one, push one to a random group (ns per pair).
  "backlogged: pop + push": (make, entries, groups) => {
    const q = make();
    const backlog = groups * DEPTH;
    for (let i = 0; i < backlog; i++) q.push(/** @type {Entry} */ (entries[i]));
    const t0 = now();
    for (let i = 0; i < OPS; i++) {
      q.pop();
      q.push(/** @type {Entry} */ (entries[backlog + i]));
    }
    return { ops: OPS, nsPerOp: (now() - t0) / OPS, complete: true };
  },
  // As the flow gate does when one tenant in ten waits for its rate limit: those groups are
  // visited and refused on every call (they keep their place), then the next group is taken.
  "popWhere, 1 group in 10 refused: popWhere + push": (make, entries, groups) => {
    const q = make();
    const backlog = groups * DEPTH;
    for (let i = 0; i < backlog; i++) q.push(/** @type {Entry} */ (entries[i]));
    const t0 = now();
    let done = 0;
    let complete = true;
    for (; done < OPS; done++) {
      q.popWhere(acceptUnblocked);
      q.push(/** @type {Entry} */ (entries[backlog + done]));
      if ((done & 63) === 63 && now() - t0 > BUDGET_NS) {
        done++;
        complete = false;
        break;
      }
    }
    return { ops: done, nsPerOp: (now() - t0) / done, complete };
  },
  // One entry per group: every pop empties a group and every push makes one active again.
  "one entry per group: pop + push": (make, entries, groups) => {
    const q = make();
    for (let i = 0; i < groups; i++) q.push(/** @type {Entry} */ (entries[i]));
    const t0 = now();
    for (let i = 0; i < OPS; i++) {
      const e = /** @type {Entry} */ (q.pop());
      q.push({
        id: /** @type {string} */ (ids[groups + i]),
        priority: e.priority,
        enqueuedAt: e.enqueuedAt,
        group: e.group,
        blocked: false,
      });
    }
    return { ops: OPS, nsPerOp: (now() - t0) / OPS, complete: true };
  },
};

const median = (/** @type {number[]} */ xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return /** @type {number} */ (s[Math.floor(s.length / 2)]);
};
const settle = async () => {
  globalThis.gc?.();
  await new Promise((resolve) => setTimeout(resolve, 300));
};

const implNames = Object.keys(IMPLS);
const scenarioNames = Object.keys(SCENARIOS);
const implOf = (/** @type {string} */ name) => /** @type {(weights: Record<string, number>) => Fair} */ (IMPLS[name]);
const scenarioOf = (/** @type {string} */ name) =>
  /** @type {(make: () => Fair, entries: Entry[], groups: number) => Sample} */ (SCENARIOS[name]);

// Warm-up: every implementation in every scenario, so the JIT has settled.
{
  const entries = entriesFor(100);
  for (const impl of implNames) for (const sc of scenarioNames) scenarioOf(sc)(() => implOf(impl)(weightsFor(100)), entries, 100);
}

/** @type {{ groups: number, scenario: string, impl: string, nsPerOp: number, ops: number, complete: boolean, samples: number }[]} */
const results = [];
for (const groups of GROUP_COUNTS) {
  await settle();
  const entries = entriesFor(groups);
  const weights = weightsFor(groups);
  for (const sc of scenarioNames) {
    /** @type {Record<string, Sample[]>} */
    const samples = Object.fromEntries(implNames.map((n) => [n, []]));
    // Rounds alternate which implementation goes first, so load from other processes on the
    // shared machine hits both alike.
    for (let r = 0; r < ROUNDS; r++) {
      for (let j = 0; j < implNames.length; j++) {
        const name = /** @type {string} */ (implNames[(j + r) % implNames.length]);
        const make = implOf(name);
        /** @type {Sample[]} */ (samples[name]).push(scenarioOf(sc)(() => make(weights), entries, groups));
      }
    }
    for (const impl of implNames) {
      const xs = /** @type {Sample[]} */ (samples[impl]);
      const first = /** @type {Sample} */ (xs[0]);
      results.push({
        groups,
        scenario: sc,
        impl,
        nsPerOp: median(xs.map((x) => x.nsPerOp)),
        ops: first.ops,
        complete: xs.every((x) => x.complete),
        samples: xs.length,
      });
    }
  }
}

const fmtLoad = (/** @type {number[]} */ xs) => xs.map((x) => x.toFixed(2)).join(" ");
const lines = [
  `Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model.trim()}; CPU time; UUIDv7-shaped 36-character ids and group names; every fifth group weight 3; median of ${ROUNDS} interleaved rounds of ${OPS.toLocaleString("en")} pairs; load average (1, 5, 15 min) ${fmtLoad(LOAD_AT_START)} at the start, ${fmtLoad(loadavg())} at the end.`,
  "",
  `| groups | scenario | ${implNames.join(" ns/pair | ")} ns/pair | before / now |`,
  "|---:|---|---:|---:|---:|",
];
for (const groups of GROUP_COUNTS) {
  for (const sc of scenarioNames) {
    const rows = implNames.map((impl) => results.find((r) => r.groups === groups && r.scenario === sc && r.impl === impl));
    const cell = (/** @type {(typeof results)[number] | undefined} */ r) =>
      r === undefined ? "n/a" : `${r.nsPerOp.toFixed(0)}${r.complete ? "" : ` (stopped after ${r.ops.toLocaleString("en")})`}`;
    const [before, after] = rows;
    const ratio = before && after ? (before.nsPerOp / after.nsPerOp).toFixed(2) : "n/a";
    lines.push(`| ${groups.toLocaleString("en")} | ${sc} | ${rows.map(cell).join(" | ")} | ${ratio} |`);
  }
}
console.log(lines.join("\n"));

mkdirSync(new URL("../bench-results/", import.meta.url), { recursive: true });
writeFileSync(
  new URL("../bench-results/fair-scheduler.json", import.meta.url),
  JSON.stringify(
    {
      node: process.version,
      cpus: cpus().length,
      date: new Date().toISOString(),
      loadavg: { start: LOAD_AT_START, end: loadavg() },
      results,
    },
    null,
    2,
  ),
);
