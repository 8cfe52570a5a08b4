// What both executor benchmarks drive tasks with (overhead.mjs: throughput, cpu.mjs: CPU time).
import { RunControl } from "../dist/index.js";

/** @typedef {(ok: boolean, value: unknown) => void} Settled */

/**
 * A contender of {@link drive}: `submit(i)` returning a promise, or `start(i, settled)`.
 * @typedef {{ submit: (i: number) => Promise<unknown>, start?: undefined } | { start: (i: number, settled: Settled) => void, submit?: undefined }} Contender
 */

/**
 * Run options as the engine passes them: one RunControl per run, its signal never made, and the
 * outcome delivered to `settle` by `Executor.start` (the engine calls `start` when an executor
 * has it, else `run`).
 */
export class BenchRun extends RunControl {
  /** @param {Settled} settled */
  constructor(settled) {
    super();
    this.settled = settled;
  }
  onProgress() {}
  /** @override @param {boolean} ok @param {unknown} value */
  settle(ok, value) {
    this.settled(ok, value);
  }
}

/**
 * Keeps `depth` tasks in flight until `total` finished; returns the elapsed milliseconds. A
 * contender has `submit(i)` returning a promise, or `start(i, settled)` calling
 * `settled(ok, value)`. The callbacks are shared by all tasks, so the harness allocates nothing
 * per task but the promise reaction of `submit` contenders (which any caller of a promise API pays).
 *
 * @param {number} total
 * @param {number} depth
 * @param {Contender} contender
 * @returns {Promise<number>}
 */
export async function drive(total, depth, contender) {
  let started = 0;
  let finished = 0;
  const t0 = performance.now();
  await /** @type {Promise<void>} */ (
    new Promise((resolve, reject) => {
      const done = () => {
        finished++;
        if (finished === total) resolve();
        else next();
      };
      /** @type {Settled} */
      const settled = (ok, value) => (ok ? done() : reject(value));
      const next = () => {
        while (started < total && started - finished < depth) {
          started++;
          if (contender.start) contender.start(started, settled);
          else contender.submit(started).then(done, reject);
        }
      };
      next();
    })
  );
  return performance.now() - t0;
}
