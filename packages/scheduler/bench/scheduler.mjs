// Benchmark: PriorityScheduler vs a bare binary heap of {priority, seq} (the floor) and
// p-queue's PriorityQueue. Not a test. Run: pnpm --filter @pyrexis/scheduler bench
// Ids are UUIDv7-shaped 36-character strings by default, like the engine's; `-- --ids=short` uses
// the short `j0` … `j1299999` of earlier runs.
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { PriorityQueue } from "p-queue";
import { seededRandom } from "@pyrexis/test-utils/random";
import { IdIndex } from "../dist/id-index.js";
import { PriorityScheduler } from "../dist/index.js";
import { uuidV7Ids } from "./uuid-ids.mjs";

const SIZES = [10_000, 100_000, 1_000_000];
const STEADY_OPS = 300_000;
const BUDGET_NS = 2e9; // a slow implementation stops after this much time per case

// --- deterministic input (mulberry32, seed 42: the same input every run) ---------------------
const LOAD_AT_START = loadavg();
const LARGEST = /** @type {number} */ (SIZES.at(-1));
const MAX = LARGEST + STEADY_OPS;
const rand = seededRandom(42);
const priorities = new Uint8Array(MAX);
for (let i = 0; i < MAX; i++) priorities[i] = Math.floor(rand() * 11);
// Every contender gets the same ids. The floor never reads them (a heap of {priority, seq} has no
// id), so its ratio charges the whole cost of ids, their length included, to the others.
const ID_KINDS = ["uuid", "short"];
const idsArg = process.argv.find((a) => a.startsWith("--ids="))?.slice("--ids=".length) ?? "uuid";
if (!ID_KINDS.includes(idsArg)) throw new Error(`--ids must be one of ${ID_KINDS.join(", ")}, got ${idsArg}`);
const ids = idsArg === "short" ? Array.from({ length: MAX }, (_, i) => `j${i}`) : uuidV7Ids(MAX, seededRandom(7));

const entries = Array.from({ length: MAX }, (_, i) => ({
  id: /** @type {string} */ (ids[i]),
  priority: /** @type {number} */ (priorities[i]),
}));

// Indexing below is always in range: the casts (comments, no code) say so to the type checker
// without adding a check to the measured loops.
/** @typedef {{ priority: number, seq: number }} Node */

// --- the floor: a bare array binary heap of {priority, seq} ---------------------------------
/** @template {Node} [N=Node] */
class BareHeap {
  /** @type {N[]} */
  a = [];
  seq = 0;
  get size() {
    return this.a.length;
  }
  /** @param {number} priority */
  push(priority) {
    const a = this.a;
    const node = /** @type {N} */ ({ priority, seq: this.seq++ });
    let i = a.length;
    a.push(node);
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = /** @type {N} */ (a[p]);
      if (!(node.priority > parent.priority || (node.priority === parent.priority && node.seq < parent.seq))) break;
      a[i] = parent;
      i = p;
    }
    a[i] = node;
  }
  /** @returns {N | undefined} */
  pop() {
    const a = this.a;
    const top = a[0];
    if (top === undefined) return undefined;
    const last = /** @type {N} */ (a.pop());
    if (last !== top) {
      const n = a.length;
      const half = n >> 1;
      let i = 0;
      while (i < half) {
        let c = 2 * i + 1;
        let child = /** @type {N} */ (a[c]);
        const r = c + 1;
        if (r < n) {
          const right = /** @type {N} */ (a[r]);
          if (right.priority > child.priority || (right.priority === child.priority && right.seq < child.seq)) {
            c = r;
            child = right;
          }
        }
        if (!(child.priority > last.priority || (child.priority === last.priority && child.seq < last.seq))) break;
        a[i] = child;
        i = c;
      }
      a[i] = last;
    }
    return top;
  }
}

// The floor plus the one thing a scheduler cannot skip: an id → entry index (O(1) has/remove).
/** @typedef {{ id: string, priority: number }} Entry */
/** @extends {BareHeap<Node>} */
class IndexedBareHeap extends BareHeap {
  /** @type {Map<string, Entry>} */
  index = new Map();
  /** @param {Entry} entry */
  pushEntry(entry) {
    if (this.index.has(entry.id)) throw new Error("duplicate");
    this.index.set(entry.id, entry);
    this.push(entry.priority);
  }
  popEntry() {
    const top = this.pop();
    // The bare heap does not carry the entry; delete by a same-sized id to pay the same Map cost.
    if (top !== undefined) this.index.delete(/** @type {string} */ (ids[top.seq]));
    return top;
  }
}

// The same floor with the scheduler's own id index (dist/id-index.js, internal): like the
// scheduler, it gives each queued entry a slot number (reused LIFO) and deletes by slot on pop.
/** @extends {BareHeap<Node & { slot: number }>} */
class TypedIndexedBareHeap extends BareHeap {
  index = new IdIndex();
  /** @type {number[]} */
  free = [];
  next = 0;
  /** @param {Entry} entry */
  pushEntry(entry) {
    const slot = this.free.length !== 0 ? /** @type {number} */ (this.free.pop()) : this.next++;
    if (!this.index.insert(entry.id, slot)) {
      this.free.push(slot);
      throw new Error("duplicate");
    }
    this.pushSlot(entry.priority, slot);
  }
  // A copy of BareHeap.push with a slot in the node, on purpose: sharing one sift-up between the
  // two node shapes would make its property accesses polymorphic and slow the floor down too.
  /** @param {number} priority @param {number} slot */
  pushSlot(priority, slot) {
    const a = this.a;
    const node = { priority, seq: this.seq++, slot };
    let i = a.length;
    a.push(node);
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = /** @type {Node & { slot: number }} */ (a[p]);
      if (!(node.priority > parent.priority || (node.priority === parent.priority && node.seq < parent.seq))) break;
      a[i] = parent;
      i = p;
    }
    a[i] = node;
  }
  popEntry() {
    const top = this.pop();
    if (top !== undefined) {
      this.index.delete(top.slot);
      this.free.push(top.slot);
    }
    return top;
  }
}

// What p-queue stores per entry (a RunFunction); never called here.
const run = async () => {};
/**
 * An implementation under test: how to make its queue, push entry `i`, pop one.
 * @template {{ readonly size: number }} Q
 * @typedef {{ make: () => Q, push: (q: Q, i: number) => unknown, pop: (q: Q) => unknown }} Impl
 */
/**
 * Checks one implementation against its own queue type; the table below then erases it.
 * @template {{ readonly size: number }} Q
 * @param {Impl<Q>} impl
 * @returns {Impl<any>}
 */
const impl = (impl) => impl;
const priority = (/** @type {number} */ i) => /** @type {number} */ (priorities[i]);
/** @type {Record<string, Impl<any>>} */
const IMPLS = {
  "bare heap {priority, seq}": impl({
    make: () => new BareHeap(),
    push: (q, i) => q.push(/** @type {number} */ (priorities[i])),
    pop: (q) => q.pop(),
  }),
  "bare heap + Map id index": impl({
    make: () => new IndexedBareHeap(),
    push: (q, i) => q.pushEntry(/** @type {Entry} */ (entries[i])),
    pop: (q) => q.popEntry(),
  }),
  "bare heap + typed-array id index": impl({
    make: () => new TypedIndexedBareHeap(),
    push: (q, i) => q.pushEntry(/** @type {Entry} */ (entries[i])),
    pop: (q) => q.popEntry(),
  }),
  "PriorityScheduler (aging 0.1, systemClock)": impl({
    make: () => new PriorityScheduler(),
    push: (q, i) => q.push(/** @type {Entry} */ (entries[i])),
    pop: (q) => q.pop(),
  }),
  "p-queue PriorityQueue 9.3": impl({
    make: () => new PriorityQueue(),
    push: (q, i) => q.enqueue(run, { priority: /** @type {number} */ (priorities[i]), id: /** @type {string} */ (ids[i]) }),
    pop: (q) => q.dequeue(),
  }),
};

// CPU time of this process (ns), not wall time: the machine is shared, and a benchmark that is
// descheduled for a while should not look slower. (GC helper threads are included; fair, as
// every contender pays its own GC.)
const now = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
};

// p-queue keeps a sorted array: random-order inserts cost O(n) each, so its *fill* (untimed, and
// for the memory figure) goes in priority order; the timed pushes stay random like everyone's.
/** @type {Map<number, number[]>} */
const sortedOrder = new Map();
/** @param {string} name @param {number} n */
function fillOrder(name, n) {
  if (!name.startsWith("p-queue")) return undefined;
  if (!sortedOrder.has(n))
    sortedOrder.set(
      n,
      Array.from({ length: n }, (_, i) => i).sort((x, y) => priority(y) - priority(x)),
    );
  return sortedOrder.get(n);
}

// One sample pushes-then-pops at least ~1M entries in total (100 queues of 10k, 10 of 100k, one
// of 1M), so small sizes are not lost in clock and GC noise.
/** @typedef {{ ops: number, nsPerOp: number, complete: boolean }} Sample */
/**
 * @param {string} name
 * @param {Impl<any>} impl
 * @param {number} n
 * @returns {Sample}
 */
function pushThenPop(name, impl, n) {
  const cycles = Math.max(1, Math.round(1_000_000 / n));
  const t0 = now();
  let ops = 0;
  let complete = true;
  for (let c = 0; c < cycles && complete; c++) {
    const q = impl.make();
    let pushed = 0;
    for (; pushed < n; pushed++) {
      impl.push(q, pushed);
      // Check the budget only every 1024 pushes: the clock read must not dominate.
      if ((pushed & 1023) === 1023 && now() - t0 > BUDGET_NS) {
        pushed++;
        complete = false;
        break;
      }
    }
    for (let i = 0; i < pushed; i++) impl.pop(q);
    ops += 2 * pushed;
  }
  return { ops, nsPerOp: (now() - t0) / ops, complete };
}

/**
 * @param {string} name
 * @param {Impl<any>} impl
 * @param {number} n
 * @returns {Sample}
 */
function steady(name, impl, n) {
  const q = impl.make();
  const order = fillOrder(name, n);
  for (let i = 0; i < n; i++) impl.push(q, order ? /** @type {number} */ (order[i]) : i);
  let done = 0;
  let complete = true;
  const t0 = now();
  for (; done < STEADY_OPS; done++) {
    impl.pop(q);
    impl.push(q, n + done);
    if ((done & 255) === 255 && now() - t0 > BUDGET_NS) {
      done++;
      complete = false;
      break;
    }
  }
  const ns = now() - t0;
  return { ops: done, nsPerOp: ns / done, complete };
}

/**
 * @param {string} name
 * @param {Impl<any>} impl
 * @param {number} n
 */
function bytesPerEntry(name, impl, n) {
  const gc = globalThis.gc;
  if (typeof gc !== "function") return undefined;
  const order = fillOrder(name, n);
  // Typed-array backing stores live outside the JS heap: count them too.
  const used = () => {
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  gc();
  const before = used();
  const q = impl.make();
  for (let i = 0; i < n; i++) impl.push(q, order ? /** @type {number} */ (order[i]) : i);
  gc();
  const after = used();
  if (q.size !== n) throw new Error(`${name}: size ${q.size} != ${n}`);
  return (after - before) / n;
}

const median = (/** @type {number[]} */ xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return /** @type {number} */ (s[Math.floor(s.length / 2)]);
};

// Warm up every implementation so the JIT has settled before measuring.
for (const [name, impl] of Object.entries(IMPLS)) {
  pushThenPop(name, impl, 20_000);
  steady(name, impl, 10_000);
}

// Rounds interleave the implementations (rotating the order) and report the median, so load
// from other processes on a shared machine hits every contender alike.
/** @type {Record<number, number>} */
const ROUNDS = { 10_000: 15, 100_000: 5, 1_000_000: 3 };
const names = Object.keys(IMPLS);
const settle = async () => {
  // A full GC, then a pause so concurrent sweeping finishes before the next CPU-time sample.
  globalThis.gc?.();
  await new Promise((resolve) => setTimeout(resolve, 300));
};
/** @typedef {{ nsPerOp: number, complete: boolean, ops: number, samples: number }} Summary */
/** @type {{ impl: string, size: number, pushThenPop: Summary, steady: Summary, bytesPerEntry: number | undefined }[]} */
const results = [];
const implOf = (/** @type {string} */ name) => /** @type {Impl<any>} */ (IMPLS[name]);
for (const size of SIZES) {
  await settle();
  /** @type {Record<string, { pushThenPop: Sample[], steady: Sample[] }>} */
  const samples = Object.fromEntries(names.map((n) => [n, { pushThenPop: [], steady: [] }]));
  for (const [scenario, fn] of /** @type {const} */ ([
    ["pushThenPop", pushThenPop],
    ["steady", steady],
  ])) {
    for (let r = 0; r < (ROUNDS[size] ?? 1); r++) {
      for (let j = 0; j < names.length; j++) {
        const name = /** @type {string} */ (names[(j + r) % names.length]);
        const prev = samples[name]?.[scenario] ?? [];
        if (prev[0] && !prev[0].complete) continue; // one over-budget sample is enough
        prev.push(fn(name, implOf(name), size));
      }
    }
  }
  await settle();
  for (const name of names) {
    /** @param {Sample[]} xs @returns {Summary} */
    const pick = (xs) => {
      const first = /** @type {Sample} */ (xs[0]);
      return { nsPerOp: median(xs.map((x) => x.nsPerOp)), complete: first.complete, ops: first.ops, samples: xs.length };
    };
    globalThis.gc?.();
    const own = /** @type {{ pushThenPop: Sample[], steady: Sample[] }} */ (samples[name]);
    results.push({
      impl: name,
      size,
      pushThenPop: pick(own.pushThenPop),
      steady: pick(own.steady),
      bytesPerEntry: bytesPerEntry(name, implOf(name), size),
    });
  }
}

/** The floor's summary at `size`. @param {number} size @param {"pushThenPop" | "steady"} key */
const floor = (size, key) => {
  const row = results.find((r) => r.size === size && r.impl.startsWith("bare"));
  if (!row) throw new Error(`no floor row at ${size}`);
  return row[key];
};
const fmtLoad = (/** @type {number[]} */ xs) => xs.map((x) => x.toFixed(2)).join(" ");
const fmt = (/** @type {number | undefined} */ x) => (x === undefined ? "n/a" : x.toFixed(0));
const lines = [
  `Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model.trim()}; CPU time; random priorities 0–10 (seed 42); ${idsArg === "uuid" ? "UUIDv7-shaped 36-character ids" : "short ids j0 … j1299999"}; median of 15 / 5 / 3 interleaved rounds; load average (1, 5, 15 min) ${fmtLoad(LOAD_AT_START)} at the start, ${fmtLoad(loadavg())} at the end.`,
  "",
  "| size | implementation | push-all-then-pop-all ns/op | × floor | steady pop+push ns/pair | × floor | bytes/entry |",
  "|---:|---|---:|---:|---:|---:|---:|",
];
for (const r of results) {
  const f1 = floor(r.size, "pushThenPop").nsPerOp;
  const f2 = floor(r.size, "steady").nsPerOp;
  const star = (/** @type {Summary} */ m) => (m.complete ? "" : ` (stopped after ${m.ops.toLocaleString("en")} ops)`);
  lines.push(
    `| ${r.size.toLocaleString("en")} | ${r.impl} | ${r.pushThenPop.nsPerOp.toFixed(0)}${star(r.pushThenPop)} | ${(r.pushThenPop.nsPerOp / f1).toFixed(2)} | ${r.steady.nsPerOp.toFixed(0)}${star(r.steady)} | ${(r.steady.nsPerOp / f2).toFixed(2)} | ${fmt(r.bytesPerEntry)} |`,
  );
}
lines.push(
  "",
  `Growth ${SIZES[0]?.toLocaleString("en")} → ${LARGEST.toLocaleString("en")} entries (ns/op ratio; log2 grows ×1.5, cache misses add more):`,
  "",
);
for (const name of names) {
  const a = results.find((r) => r.impl === name && r.size === SIZES[0]);
  const b = results.find((r) => r.impl === name && r.size === LARGEST);
  if (!a || !b) throw new Error(`${name}: missing a size`);
  lines.push(
    `- ${name}: push+pop ×${(b.pushThenPop.nsPerOp / a.pushThenPop.nsPerOp).toFixed(2)}, steady ×${(b.steady.nsPerOp / a.steady.nsPerOp).toFixed(2)}`,
  );
}
console.log(lines.join("\n"));

mkdirSync(new URL("../bench-results/", import.meta.url), { recursive: true });
writeFileSync(
  new URL("../bench-results/scheduler.json", import.meta.url),
  JSON.stringify(
    {
      node: process.version,
      cpus: cpus().length,
      date: new Date().toISOString(),
      ids: idsArg,
      loadavg: { start: LOAD_AT_START, end: loadavg() },
      results,
    },
    null,
    2,
  ),
);
