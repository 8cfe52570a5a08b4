// Benchmark: PriorityScheduler vs a bare binary heap of {priority, seq} (the floor) and
// p-queue's PriorityQueue. Not a test. Run: pnpm --filter @pyrexis/scheduler bench
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { PriorityQueue } from "p-queue";
import { seededRandom } from "@pyrexis/test-utils/random";
import { IdIndex } from "../dist/id-index.js";
import { PriorityScheduler } from "../dist/index.js";

const SIZES = [10_000, 100_000, 1_000_000];
const STEADY_OPS = 300_000;
const BUDGET_NS = 2e9; // a slow implementation stops after this much time per case

// --- deterministic input (mulberry32, seed 42: the same input every run) ---------------------
const MAX = SIZES.at(-1) + STEADY_OPS;
const rand = seededRandom(42);
const priorities = new Uint8Array(MAX);
for (let i = 0; i < MAX; i++) priorities[i] = Math.floor(rand() * 11);
const ids = Array.from({ length: MAX }, (_, i) => `j${i}`);
const entries = Array.from({ length: MAX }, (_, i) => ({ id: ids[i], priority: priorities[i] }));

// --- the floor: a bare array binary heap of {priority, seq} ---------------------------------
class BareHeap {
  a = [];
  seq = 0;
  get size() {
    return this.a.length;
  }
  push(priority) {
    const a = this.a;
    const node = { priority, seq: this.seq++ };
    let i = a.length;
    a.push(node);
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = a[p];
      if (!(node.priority > parent.priority || (node.priority === parent.priority && node.seq < parent.seq))) break;
      a[i] = parent;
      i = p;
    }
    a[i] = node;
  }
  pop() {
    const a = this.a;
    const top = a[0];
    if (top === undefined) return undefined;
    const last = a.pop();
    if (last !== top) {
      const n = a.length;
      const half = n >> 1;
      let i = 0;
      while (i < half) {
        let c = 2 * i + 1;
        let child = a[c];
        const r = c + 1;
        if (r < n) {
          const right = a[r];
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
class IndexedBareHeap extends BareHeap {
  index = new Map();
  pushEntry(entry) {
    if (this.index.has(entry.id)) throw new Error("duplicate");
    this.index.set(entry.id, entry);
    this.push(entry.priority);
  }
  popEntry() {
    const top = this.pop();
    // The bare heap does not carry the entry; delete by a same-sized id to pay the same Map cost.
    if (top !== undefined) this.index.delete(ids[top.seq]);
    return top;
  }
}

// The same floor with the scheduler's own id index (dist/id-index.js, internal): like the
// scheduler, it gives each queued entry a slot number (reused LIFO) and deletes by slot on pop.
class TypedIndexedBareHeap extends BareHeap {
  index = new IdIndex();
  free = [];
  next = 0;
  pushEntry(entry) {
    const slot = this.free.length !== 0 ? this.free.pop() : this.next++;
    if (!this.index.insert(entry.id, slot)) {
      this.free.push(slot);
      throw new Error("duplicate");
    }
    this.pushSlot(entry.priority, slot);
  }
  // A copy of BareHeap.push with a slot in the node, on purpose: sharing one sift-up between the
  // two node shapes would make its property accesses polymorphic and slow the floor down too.
  pushSlot(priority, slot) {
    const a = this.a;
    const node = { priority, seq: this.seq++, slot };
    let i = a.length;
    a.push(node);
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = a[p];
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

const run = () => {};
const IMPLS = {
  "bare heap {priority, seq}": {
    make: () => new BareHeap(),
    push: (q, i) => q.push(priorities[i]),
    pop: (q) => q.pop(),
  },
  "bare heap + Map id index": {
    make: () => new IndexedBareHeap(),
    push: (q, i) => q.pushEntry(entries[i]),
    pop: (q) => q.popEntry(),
  },
  "bare heap + typed-array id index": {
    make: () => new TypedIndexedBareHeap(),
    push: (q, i) => q.pushEntry(entries[i]),
    pop: (q) => q.popEntry(),
  },
  "PriorityScheduler (aging 0.1, systemClock)": {
    make: () => new PriorityScheduler(),
    push: (q, i) => q.push(entries[i]),
    pop: (q) => q.pop(),
  },
  "p-queue PriorityQueue 9.3": {
    make: () => new PriorityQueue(),
    push: (q, i) => q.enqueue(run, { priority: priorities[i], id: ids[i] }),
    pop: (q) => q.dequeue(),
  },
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
const sortedOrder = new Map();
function fillOrder(name, n) {
  if (!name.startsWith("p-queue")) return undefined;
  if (!sortedOrder.has(n))
    sortedOrder.set(
      n,
      Array.from({ length: n }, (_, i) => i).sort((x, y) => priorities[y] - priorities[x]),
    );
  return sortedOrder.get(n);
}

// One sample pushes-then-pops at least ~1M entries in total (100 queues of 10k, 10 of 100k, one
// of 1M), so small sizes are not lost in clock and GC noise.
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

function steady(name, impl, n) {
  const q = impl.make();
  const order = fillOrder(name, n);
  for (let i = 0; i < n; i++) impl.push(q, order ? order[i] : i);
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

function bytesPerEntry(name, impl, n) {
  if (typeof globalThis.gc !== "function") return undefined;
  const order = fillOrder(name, n);
  // Typed-array backing stores live outside the JS heap: count them too.
  const used = () => {
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  globalThis.gc();
  const before = used();
  const q = impl.make();
  for (let i = 0; i < n; i++) impl.push(q, order ? order[i] : i);
  globalThis.gc();
  const after = used();
  if (q.size !== n) throw new Error(`${name}: size ${q.size} != ${n}`);
  return (after - before) / n;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};

// Warm up every implementation so the JIT has settled before measuring.
for (const [name, impl] of Object.entries(IMPLS)) {
  pushThenPop(name, impl, 20_000);
  steady(name, impl, 10_000);
}

// Rounds interleave the implementations (rotating the order) and report the median, so load
// from other processes on a shared machine hits every contender alike.
const ROUNDS = { 10_000: 15, 100_000: 5, 1_000_000: 3 };
const names = Object.keys(IMPLS);
const settle = async () => {
  // A full GC, then a pause so concurrent sweeping finishes before the next CPU-time sample.
  globalThis.gc?.();
  await new Promise((resolve) => setTimeout(resolve, 300));
};
const results = [];
for (const size of SIZES) {
  await settle();
  const samples = Object.fromEntries(names.map((n) => [n, { pushThenPop: [], steady: [] }]));
  for (const [scenario, fn] of [
    ["pushThenPop", pushThenPop],
    ["steady", steady],
  ]) {
    for (let r = 0; r < ROUNDS[size]; r++) {
      for (let j = 0; j < names.length; j++) {
        const name = names[(j + r) % names.length];
        const prev = samples[name][scenario];
        if (prev.length && !prev[0].complete) continue; // one over-budget sample is enough
        prev.push(fn(name, IMPLS[name], size));
      }
    }
  }
  await settle();
  for (const name of names) {
    const pick = (xs) => ({ nsPerOp: median(xs.map((x) => x.nsPerOp)), complete: xs[0].complete, ops: xs[0].ops, samples: xs.length });
    globalThis.gc?.();
    results.push({
      impl: name,
      size,
      pushThenPop: pick(samples[name].pushThenPop),
      steady: pick(samples[name].steady),
      bytesPerEntry: bytesPerEntry(name, IMPLS[name], size),
    });
  }
}

const floor = (size, key) => results.find((r) => r.size === size && r.impl.startsWith("bare"))[key];
const fmt = (x) => (x === undefined ? "n/a" : x.toFixed(0));
const lines = [
  `Node ${process.version}, ${cpus().length} × ${cpus()[0]?.model.trim()}; CPU time; random priorities 0–10 (seed 42); median of 15 / 5 / 3 interleaved rounds.`,
  "",
  "| size | implementation | push-all-then-pop-all ns/op | × floor | steady pop+push ns/pair | × floor | bytes/entry |",
  "|---:|---|---:|---:|---:|---:|---:|",
];
for (const r of results) {
  const f1 = floor(r.size, "pushThenPop").nsPerOp;
  const f2 = floor(r.size, "steady").nsPerOp;
  const star = (m) => (m.complete ? "" : ` (stopped after ${m.ops.toLocaleString("en")} ops)`);
  lines.push(
    `| ${r.size.toLocaleString("en")} | ${r.impl} | ${r.pushThenPop.nsPerOp.toFixed(0)}${star(r.pushThenPop)} | ${(r.pushThenPop.nsPerOp / f1).toFixed(2)} | ${r.steady.nsPerOp.toFixed(0)}${star(r.steady)} | ${(r.steady.nsPerOp / f2).toFixed(2)} | ${fmt(r.bytesPerEntry)} |`,
  );
}
lines.push(
  "",
  `Growth ${SIZES[0].toLocaleString("en")} → ${SIZES.at(-1).toLocaleString("en")} entries (ns/op ratio; log2 grows ×1.5, cache misses add more):`,
  "",
);
for (const name of names) {
  const a = results.find((r) => r.impl === name && r.size === SIZES[0]);
  const b = results.find((r) => r.impl === name && r.size === SIZES.at(-1));
  lines.push(
    `- ${name}: push+pop ×${(b.pushThenPop.nsPerOp / a.pushThenPop.nsPerOp).toFixed(2)}, steady ×${(b.steady.nsPerOp / a.steady.nsPerOp).toFixed(2)}`,
  );
}
console.log(lines.join("\n"));

mkdirSync(new URL("../bench-results/", import.meta.url), { recursive: true });
writeFileSync(
  new URL("../bench-results/scheduler.json", import.meta.url),
  JSON.stringify({ node: process.version, cpus: cpus().length, date: new Date().toISOString(), results }, null, 2),
);
