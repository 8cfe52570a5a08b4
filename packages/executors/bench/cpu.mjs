// CPU time per no-op task, beside raw tinypool in the same run: the main thread, the other
// threads of this process (worker threads and V8/libuv helpers) and the child processes, read
// from the kernel's per-thread run times (/proc/<pid>/task/<tid>/schedstat, Linux only).
// Throughput on a 2-core machine shared with other work swings from round to round; CPU per
// task swings much less, and it says where a gap is (our main thread, the workers, the children).
// Usage: pnpm --filter @pyrexis/executors build && node bench/cpu.mjs
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { setMaxListeners } from "node:events";
import { cpus } from "node:os";
import Tinypool from "tinypool";
import { ProcessExecutor, ThreadExecutor } from "../dist/index.js";
import { BenchRun, drive } from "./harness.mjs";

const WORKERS = 2;
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const HANDLERS = new URL("./handlers.mjs", import.meta.url);
const RAW = new URL("./raw-task.mjs", import.meta.url).href;
const sharedSignal = new AbortController().signal;
setMaxListeners(0, sharedSignal);
const onProgress = () => {};

/** Nanoseconds thread `tid` of process `pid` has run, or 0 once it is gone. @param {number | string} pid @param {string} tid */
function threadNs(pid, tid) {
  try {
    return Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
  } catch {
    return 0;
  }
}

/** Run time by thread of process `pid` (a map, so threads that end or start are counted right). @param {number | string} pid */
function threadsOf(pid) {
  /** @type {Map<string, number>} */
  const out = new Map();
  for (const tid of readdirSync(`/proc/${pid}/task`)) out.set(`${pid}/${tid}`, threadNs(pid, tid));
  return out;
}

function childPids() {
  try {
    return readFileSync(`/proc/${process.pid}/task/${process.pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
  } catch {
    return [];
  }
}

function sample() {
  /** @type {Map<string, number>} */
  const children = new Map();
  for (const pid of childPids()) {
    try {
      for (const [k, v] of threadsOf(pid)) children.set(k, v);
    } catch {
      // the child exited between the two reads
    }
  }
  return { self: threadsOf(process.pid), children, t: performance.now() };
}

/**
 * Nanoseconds run between two samples by the threads that `pick` selects.
 * @param {Map<string, number>} a
 * @param {Map<string, number>} b
 * @param {(key: string) => boolean} pick
 */
function ranBetween(a, b, pick) {
  let ns = 0;
  for (const [k, v] of b) if (pick(k)) ns += v - (a.get(k) ?? 0);
  return ns;
}

const task = (/** @type {number} */ i) => ({ jobId: `j${i}`, handler: "noop", payload: null, attempt: 1 });
/** @typedef {"worker_threads" | "child_process"} Runtime */
const pyrexis = (/** @type {Runtime} */ runtime, /** @type {number} */ conc) =>
  new (runtime === "worker_threads" ? ThreadExecutor : ProcessExecutor)({
    handlersModule: HANDLERS,
    minWorkers: WORKERS,
    maxWorkers: WORKERS,
    concurrentTasksPerWorker: conc,
  });
/** @type {Record<string, (runtime: Runtime, conc: number) => import("./harness.mjs").Contender & { close: () => Promise<unknown> }>} */
const contenders = {
  "tinypool (raw)": (runtime, conc) => {
    const pool = new Tinypool({ filename: RAW, runtime, minThreads: WORKERS, maxThreads: WORKERS, concurrentTasksPerWorker: conc });
    return { submit: () => pool.run(null), close: () => pool.destroy() };
  },
  // The same no-op, sent the tuple a Pyrexis task travels as (its routing key, job id, handler,
  // payload, attempt and, for threads, its cell): what carrying a job's data costs by itself.
  "tinypool (raw, with a task's data)": (runtime, conc) => {
    const pool = new Tinypool({ filename: RAW, runtime, minThreads: WORKERS, maxThreads: WORKERS, concurrentTasksPerWorker: conc });
    const cell = runtime === "worker_threads" ? [0] : [];
    return { submit: (i) => pool.run([i, `j${i}`, "noop", null, 1, ...cell]), close: () => pool.destroy() };
  },
  "pyrexis executor (shared signal)": (runtime, conc) => {
    const ex = pyrexis(runtime, conc);
    return { submit: (i) => ex.run(task(i), { signal: sharedSignal, onProgress }), close: () => ex.close() };
  },
  "pyrexis executor (RunControl, as the engine calls it)": (runtime, conc) => {
    const ex = pyrexis(runtime, conc);
    return { start: (i, settled) => ex.start(task(i), new BenchRun(settled)), close: () => ex.close() };
  },
};

const median = (/** @type {number[]} */ xs) => /** @type {number} */ ([...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]);
const us = (/** @type {number} */ ns, /** @type {number} */ n) => ns / 1000 / n;
/** @typedef {{ wall: number, main: number, threads: number, children: number, total: number }} Measure µs per task */
/** @type {{ runtime: Runtime, perWorker: number, name: string, wallUs: number, mainUs: number, threadsUs: number, childrenUs: number, totalUs: number, vsTinypool: number, vsTinypoolRange: [number, number] }[]} */
const rows = [];
const names = Object.keys(contenders);
for (const runtime of /** @type {const} */ (["worker_threads", "child_process"])) {
  for (const conc of [1, 16]) {
    const total = runtime === "worker_threads" ? 20_000 : 10_000;
    const depth = WORKERS * conc * 2;
    /** @type {Record<string, Measure[]>} */
    const per = {};
    for (let round = 0; round < ROUNDS; round++) {
      const order = names.map((_, i) => /** @type {string} */ (names[(i + round) % names.length]));
      for (const name of order) {
        const make = contenders[name];
        if (!make) continue;
        const c = make(runtime, conc);
        // Warm-up as long as the measurement: the first thousands of tasks in a fresh worker still
        // pay for its start (JIT, the first full GCs after importing the handlers module and its
        // dependencies), which a 2,000-task warm-up left inside the measured window.
        await drive(total, depth, c);
        const a = sample();
        await drive(total, depth, c);
        const b = sample();
        await c.close();
        const main = `${process.pid}/${process.pid}`;
        const cpu = {
          wall: ((b.t - a.t) * 1000) / total,
          main: us(
            ranBetween(a.self, b.self, (k) => k === main),
            total,
          ),
          threads: us(
            ranBetween(a.self, b.self, (k) => k !== main),
            total,
          ),
          children: us(
            ranBetween(a.children, b.children, () => true),
            total,
          ),
        };
        (per[name] ??= []).push({ ...cpu, total: cpu.main + cpu.threads + cpu.children });
      }
    }
    const raw = per["tinypool (raw)"] ?? [];
    for (const name of names) {
      const ms = per[name] ?? [];
      const pick = (/** @type {keyof Measure} */ k) => +median(ms.map((m) => m[k])).toFixed(1);
      const ratios = ms.map((m, i) => m.total / /** @type {Measure} */ (raw[i]).total);
      rows.push({
        runtime,
        perWorker: conc,
        name,
        wallUs: pick("wall"),
        mainUs: pick("main"),
        threadsUs: pick("threads"),
        childrenUs: pick("children"),
        totalUs: pick("total"),
        vsTinypool: +median(ratios).toFixed(2),
        vsTinypoolRange: [+Math.min(...ratios).toFixed(2), +Math.max(...ratios).toFixed(2)],
      });
    }
  }
}

const machine = `${cpus().length} cores (${cpus()[0]?.model ?? "unknown"}), Node ${process.version}`;
console.log(
  `\nCPU per no-op task, ${WORKERS} workers, median of ${ROUNDS} rounds (× raw tinypool: median of per-round ratios of total CPU, min–max) — ${machine}\n`,
);
console.log(
  "| runtime | tasks/worker | contender | wall µs/task | main thread µs | other threads µs | children µs | total CPU µs | × raw tinypool |",
);
console.log("|---|---:|---|---:|---:|---:|---:|---:|---:|");
for (const r of rows) {
  console.log(
    `| ${r.runtime} | ${r.perWorker} | ${r.name} | ${r.wallUs} | ${r.mainUs} | ${r.threadsUs} | ${r.childrenUs} | ${r.totalUs} | ${r.vsTinypool} (${r.vsTinypoolRange[0]}–${r.vsTinypoolRange[1]}) |`,
  );
}
mkdirSync(new URL("../bench-results/", import.meta.url), { recursive: true });
writeFileSync(
  new URL("../bench-results/cpu.json", import.meta.url),
  JSON.stringify({ machine, date: new Date().toISOString(), rows }, null, 2),
);
