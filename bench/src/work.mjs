// The workload every contender runs, shared so that no contender gets a cheaper version of it.
import { setTimeout as sleep } from "node:timers/promises";

/** Absolute high-resolution time in ms, comparable across worker threads of one process. */
export function now() {
  return performance.timeOrigin + performance.now();
}

/**
 * What a job stands for: `noop` returns at once, `cpu` hashes, `sleep` waits.
 * @typedef {"noop" | "cpu" | "sleep"} Task
 */
/**
 * The payload every job carries: its sequence number, when it was made, some text, and what
 * its task needs (`ms` to sleep, `iterations` to hash; `low`: the fairness scenario's index;
 * `wall`: `Date.now()` when another process added it, in the cross-process scenario).
 * @typedef {{ seq: number, t: number, text: string, ms?: number, iterations?: number, low?: number, wall?: number }} Payload
 */

/**
 * The payload every job carries (same shape for all contenders).
 * @param {number} seq
 * @param {{ ms?: number, iterations?: number, low?: number, wall?: number }} [extra]
 * @returns {Payload}
 */
export function makePayload(seq, extra = {}) {
  return { seq, t: now(), text: "the quick brown fox", ...extra };
}

/**
 * Deterministic CPU work: a fixed number of integer-hash rounds, so every contender does the same
 * work (a busy-wait "for 2 ms" would let threads look free). Returns a value so it is not elided.
 */
export function cpuWork(/** @type {number} */ iterations) {
  let h = 2166136261;
  for (let i = 0; i < iterations; i++) {
    h ^= i;
    h = Math.imul(h, 16777619) >>> 0;
  }
  return h;
}

/** Iterations of {@link cpuWork} that take about `targetMs` on this machine. */
export function calibrateCpu(targetMs = 2) {
  let iterations = 100_000;
  cpuWork(iterations); // warm up the JIT
  for (let round = 0; round < 5; round++) {
    const t0 = performance.now();
    for (let k = 0; k < 10; k++) cpuWork(iterations);
    const per = (performance.now() - t0) / 10;
    iterations = Math.max(1000, Math.round((iterations * targetMs) / Math.max(per, 0.001)));
  }
  return iterations;
}

/**
 * Runs the task a job stands for. `noop` returns at once; `cpu` hashes `payload.iterations`
 * rounds; `sleep` waits `payload.ms` (an I/O-like job that holds a concurrency slot).
 */
export async function runTask(/** @type {Task} */ task, /** @type {Payload} */ payload) {
  switch (task) {
    case "noop":
      return payload.seq;
    case "cpu":
      return cpuWork(payload.iterations ?? 0);
    case "sleep":
      await sleep(payload.ms ?? 0);
      return payload.seq;
    default:
      throw new TypeError(`unknown task ${String(task)}`);
  }
}
