// Per-task overhead of each executor mode beside raw tinypool and piscina, in the same run.
// Usage: pnpm --filter @pyrexis/executors build && pnpm --filter @pyrexis/executors bench
import { mkdirSync, writeFileSync } from "node:fs";
import { setMaxListeners } from "node:events";
import { cpus } from "node:os";
import Tinypool from "tinypool";
import { Piscina } from "piscina";
import { AsyncExecutor, ProcessExecutor, ThreadExecutor } from "../dist/index.js";
import { BenchRun, drive } from "./harness.mjs";

const WORKERS = 2;
/** Rounds of the no-op measurement (each contender runs one block of a quarter of `total` per round). */
const ROUNDS = 16;
/** Rounds of the async and CPU-bound measurements. */
const CPU_ROUNDS = 5;
const HANDLERS = new URL("./handlers.mjs", import.meta.url);
const RAW = new URL("./raw-task.mjs", import.meta.url).href;
// One signal for all runs: creating a per-job signal is the caller's cost, not the executor's.
const sharedSignal = new AbortController().signal;
setMaxListeners(0, sharedSignal);
const freshSignal = () => sharedSignal;
const onProgress = () => {};

/**
 * @param {number} i
 * @param {string} [handler]
 * @param {unknown} [payload]
 * @returns {import("../dist/index.js").ExecutionTask}
 */
function executorTask(i, handler = "noop", payload = null) {
  return { jobId: `j${i}`, handler, payload, attempt: 1 };
}

/**
 * How each contender is made for a runtime and tasks per worker (`undefined`: not for this runtime).
 * @type {Record<string, (runtime: "worker_threads" | "child_process", conc: number) => (import("./harness.mjs").Contender & { close: () => Promise<unknown> }) | undefined>}
 */
const contenders = {
  "tinypool (raw)": (runtime, conc) => {
    const pool = new Tinypool({ filename: RAW, runtime, minThreads: WORKERS, maxThreads: WORKERS, concurrentTasksPerWorker: conc });
    return { submit: () => pool.run(null), close: () => pool.destroy() };
  },
  "piscina (raw)": (runtime, conc) => {
    if (runtime !== "worker_threads") return undefined;
    const pool = new Piscina({ filename: RAW, minThreads: WORKERS, maxThreads: WORKERS, concurrentTasksPerWorker: conc });
    return { submit: () => pool.run(null), close: () => pool.destroy() };
  },
  "pyrexis executor (shared signal)": (runtime, conc) => {
    const Ctor = runtime === "worker_threads" ? ThreadExecutor : ProcessExecutor;
    const ex = new Ctor({ handlersModule: HANDLERS, minWorkers: WORKERS, maxWorkers: WORKERS, concurrentTasksPerWorker: conc });
    return { submit: (i) => ex.run(executorTask(i), { signal: freshSignal(), onProgress }), close: () => ex.close() };
  },
  "pyrexis executor (RunControl, as the engine calls it)": (runtime, conc) => {
    const Ctor = runtime === "worker_threads" ? ThreadExecutor : ProcessExecutor;
    const ex = new Ctor({ handlersModule: HANDLERS, minWorkers: WORKERS, maxWorkers: WORKERS, concurrentTasksPerWorker: conc });
    return { start: (i, settled) => ex.start(executorTask(i), new BenchRun(settled)), close: () => ex.close() };
  },
};

const median = (/** @type {number[]} */ xs) => /** @type {number} */ ([...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]);
/** The q-quantile (nearest rank) of `xs`. */
const quantile = (/** @type {number[]} */ xs, /** @type {number} */ q) =>
  /** @type {number} */ ([...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.round(q * (xs.length - 1)))]);
/** @type {{ runtime: string, perWorker: number, name: string, tasksPerSec: number, usPerTask: number, vsTinypool: number | null, vsTinypoolIqr?: [number, number], vsTinypoolRange?: [number, number] }[]} */
const rows = [];
for (const runtime of /** @type {const} */ (["worker_threads", "child_process"])) {
  for (const conc of [1, 16]) {
    const total = runtime === "worker_threads" ? 20_000 : 10_000;
    const block = total / 4;
    const depth = WORKERS * conc * 2;
    /** @type {Record<string, number[]>} */
    const results = {};
    /** @type {Record<string, number[]>} */
    const ratios = {};
    // Every pool lives for the whole measurement and is warmed up once, for as many tasks as it is
    // then measured on (the first thousands of tasks in a fresh worker still pay for its start:
    // JIT, the first full GCs after importing the handlers module). Then the contenders take
    // turns in short blocks, in an order that rotates each round, and each ratio is taken within
    // its round: raw tinypool and a contender are measured a second or less apart, so a machine
    // that slows down for a while (it is shared) moves a whole round, not one contender.
    const live = /** @type {[string, NonNullable<ReturnType<(typeof contenders)[string]>>][]} */ (
      Object.entries(contenders).flatMap(([name, make]) => {
        const c = make(runtime, conc);
        return c ? [[name, c]] : [];
      })
    );
    for (const [, c] of live) await drive(total, depth, c);
    for (let round = 0; round < ROUNDS; round++) {
      /** @type {Record<string, number>} */
      const perSec = {};
      for (let i = 0; i < live.length; i++) {
        const [name, c] = /** @type {(typeof live)[number]} */ (live[(i + round) % live.length]);
        const tasksPerSec = (block * 1000) / (await drive(block, depth, c));
        perSec[name] = tasksPerSec;
        (results[name] ??= []).push(tasksPerSec);
      }
      const raw = /** @type {number} */ (perSec["tinypool (raw)"]);
      for (const [name, value] of Object.entries(perSec)) (ratios[name] ??= []).push(raw / value);
    }
    for (const [, c] of live) await c.close();
    for (const [name, values] of Object.entries(results)) {
      const perSec = median(values);
      const r = ratios[name] ?? [];
      rows.push({
        runtime,
        perWorker: conc,
        name,
        tasksPerSec: Math.round(perSec),
        usPerTask: +(1e6 / perSec).toFixed(1),
        vsTinypool: +median(r).toFixed(2),
        vsTinypoolIqr: [+quantile(r, 0.25).toFixed(2), +quantile(r, 0.75).toFixed(2)],
        vsTinypoolRange: [+Math.min(...r).toFixed(2), +Math.max(...r).toFixed(2)],
      });
    }
  }
}

// The async executor on the event loop, for reference (no worker boundary at all).
{
  const ex = new AsyncExecutor({ handlers: HANDLERS });
  const values = [];
  for (let round = 0; round < CPU_ROUNDS; round++)
    values.push(50_000_000 / (await drive(50_000, 64, { submit: (i) => ex.run(executorTask(i), { signal: freshSignal(), onProgress }) })));
  await ex.close();
  const perSec = median(values);
  rows.push({
    runtime: "event loop",
    perWorker: 64,
    name: "pyrexis AsyncExecutor",
    tasksPerSec: Math.round(perSec),
    usPerTask: +(1e6 / perSec).toFixed(1),
    vsTinypool: null,
  });
}

// CPU-bound speed-up: 16 tasks of pure JS work, async (one event loop) vs 2 threads vs 2 processes.
const cpuTasks = 16;
const cpuPayload = { seed: 7, iterations: 8_000_000 };
/** @type {Record<string, number>} */
const cpu = {};
for (const [mode, make] of Object.entries({
  async: () => new AsyncExecutor({ handlers: HANDLERS }),
  thread: () => new ThreadExecutor({ handlersModule: HANDLERS, minWorkers: WORKERS, maxWorkers: WORKERS }),
  process: () => new ProcessExecutor({ handlersModule: HANDLERS, minWorkers: WORKERS, maxWorkers: WORKERS }),
})) {
  const ex = make();
  await ex.run(executorTask(0, "cpu", { seed: 1, iterations: 1000 }), { signal: freshSignal(), onProgress }); // warm-up
  const times = [];
  for (let round = 0; round < CPU_ROUNDS; round++) {
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: cpuTasks }, (_, i) => ex.run(executorTask(i, "cpu", cpuPayload), { signal: freshSignal(), onProgress })),
    );
    times.push(performance.now() - t0);
  }
  await ex.close();
  cpu[mode] = median(times);
}

const machine = `${cpus().length} cores (${cpus()[0]?.model ?? "unknown"}), Node ${process.version}`;
console.log(
  `\nPer-task overhead, no-op tasks, ${WORKERS} workers, ${ROUNDS} interleaved rounds (× raw tinypool: median of per-round ratios, p25–p75, min–max) — ${machine}\n`,
);
console.log("| runtime | tasks/worker | contender | tasks/s | µs/task | × raw tinypool |");
console.log("|---|---:|---|---:|---:|---:|");
for (const r of rows) {
  const ratio =
    r.vsTinypool === null || !r.vsTinypoolRange || !r.vsTinypoolIqr
      ? "–"
      : `${r.vsTinypool} (${r.vsTinypoolIqr[0]}–${r.vsTinypoolIqr[1]}; ${r.vsTinypoolRange[0]}–${r.vsTinypoolRange[1]})`;
  console.log(`| ${r.runtime} | ${r.perWorker} | ${r.name} | ${r.tasksPerSec.toLocaleString("en")} | ${r.usPerTask} | ${ratio} |`);
}
console.log(`\nCPU-bound: ${cpuTasks} tasks × ${cpuPayload.iterations.toLocaleString("en")} xorshift steps, ${WORKERS} workers\n`);
console.log("| mode | wall ms | speed-up vs async |");
console.log("|---|---:|---:|");
const asyncMs = /** @type {number} */ (cpu.async);
for (const [mode, ms] of Object.entries(cpu)) console.log(`| ${mode} | ${Math.round(ms)} | ${(asyncMs / ms).toFixed(2)}× |`);

mkdirSync(new URL("../bench-results/", import.meta.url), { recursive: true });
writeFileSync(
  new URL("../bench-results/overhead.json", import.meta.url),
  JSON.stringify({ machine, date: new Date().toISOString(), rows, cpu }, null, 2),
);
