// The scenarios, written once against the driver shape in contenders/common.mjs, so every
// contender runs exactly the same workload and is timed the same way.
import { fork } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { makePayload, now } from "./work.mjs";

/** @typedef {import("./contenders/common.mjs").Driver} Driver */
/** @typedef {import("./contenders/common.mjs").Ctx} Ctx */
/**
 * The scenarios' parameters, as peers.mjs sets them.
 * @typedef {{
 *   n: number,
 *   runs: number,
 *   drainTimeoutMs: number,
 *   latency: { rate: number, seconds: number, graceMs: number },
 *   cpu: { n: number, targetMs: number, iterations: number },
 *   fairness: { seconds: number, concurrency: number, backlog: number, sleepMs: number, agingRate: number },
 * }} Params
 */

/**
 * Resolves after `ms`, or with "timeout" — whichever is first against `promise`.
 * @param {Promise<unknown>} promise
 * @param {number} ms
 */
async function within(promise, ms) {
  /** @type {NodeJS.Timeout | undefined} */
  let timer;
  const t = new Promise((r) => (timer = setTimeout(() => r("timeout"), ms)));
  try {
    return await Promise.race([promise, t]);
  } finally {
    clearTimeout(timer);
  }
}

/** @param {number[]} sorted @param {number} q */
function quantile(sorted, q) {
  if (sorted.length === 0) return undefined;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

/**
 * Bulk add `n` jobs in one call (timed), then start consumers at `concurrency` and time until all
 * `n` completions are recorded (and the contender's own bookkeeping settled).
 *
 * @param {Driver} driver
 * @param {{ n: number, concurrency: number, task: import("./work.mjs").Task, extra?: { iterations?: number }, timeoutMs: number }} options
 */
async function throughput(driver, { n, concurrency, task, extra = {}, timeoutMs }) {
  const jobs = Array.from({ length: n }, (_, i) => ({ payload: makePayload(i, extra) }));
  const t0 = now();
  await driver.add(jobs);
  const addMs = now() - t0;
  let completed = 0;
  /** @type {() => void} */
  let allDone = () => {};
  const done = new Promise((/** @type {(value?: undefined) => void} */ r) => (allDone = r));
  const t1 = now();
  await driver.start({
    concurrency,
    task,
    onStart() {},
    onComplete() {
      if (++completed === n) allDone();
    },
  });
  let timedOut = (await within(done, timeoutMs)) === "timeout";
  if (!timedOut && driver.settle) timedOut = (await within(driver.settle(), Math.max(1, timeoutMs - (now() - t1)))) === "timeout";
  const drainMs = now() - t1;
  await driver.stop();
  return {
    n,
    concurrency,
    addMs,
    addRate: (n / addMs) * 1000,
    drainMs,
    completed,
    timedOut,
    drainRate: (completed / drainMs) * 1000,
  };
}

/**
 * A steady trickle: `rate` jobs/s for `seconds`, each added by its own add() call; latency is
 * from that call to the handler starting.
 *
 * @param {Driver} driver
 * @param {Params["latency"] & { concurrency: number }} options
 */
async function latency(driver, { rate, seconds, concurrency, graceMs }) {
  /** @type {number[]} */
  const waits = [];
  await driver.start({
    concurrency,
    task: "noop",
    onStart(payload) {
      waits.push(now() - payload.t);
    },
    onComplete() {},
  });
  const total = Math.round(rate * seconds);
  const begin = now();
  const adds = [];
  for (let i = 0; i < total; i++) {
    const due = begin + (i * 1000) / rate;
    const wait = due - now();
    if (wait > 1) await sleep(wait);
    adds.push(driver.add([{ payload: makePayload(i) }]));
  }
  await Promise.all(adds);
  const deadline = now() + graceMs;
  while (waits.length < total && now() < deadline) await sleep(10);
  await driver.stop();
  const sorted = [...waits].sort((a, b) => a - b);
  return {
    added: total,
    started: waits.length,
    p50: quantile(sorted, 0.5),
    p99: quantile(sorted, 0.99),
    max: sorted.at(-1),
    producedRate: (total / (now() - begin)) * 1000,
  };
}

/**
 * The same trickle from another process: consumers run here, a submitter process
 * (src/submitter.mjs) adds `rate` jobs/s for `seconds`, one add() per job, each stamped with
 * `Date.now()` there; latency is `Date.now()` here when the handler starts minus that stamp
 * (one machine, one clock; 1 ms resolution).
 *
 * @param {Driver} driver
 * @param {import("./contenders/common.mjs").Variant} variant
 * @param {Ctx} ctx
 * @param {Params["latency"]} options
 */
async function latencyCrossProcess(driver, variant, ctx, { rate, seconds, graceMs }) {
  if (!driver.share || !variant.submitter) throw new TypeError(`${variant.id} cannot be fed from another process`);
  /** @type {number[]} */
  const waits = [];
  await driver.start({
    concurrency: ctx.concurrency,
    task: "noop",
    onStart(payload) {
      if (payload.wall !== undefined) waits.push(Date.now() - payload.wall);
    },
    onComplete() {},
  });
  const { concurrency, task, agingRate, crossProcess } = ctx;
  const child = fork(
    fileURLToPath(new URL("./submitter.mjs", import.meta.url)),
    [JSON.stringify({ contender: variant.id, shared: driver.share(), ctx: { concurrency, task, agingRate, crossProcess }, rate, seconds })],
    { stdio: ["ignore", "inherit", "inherit", "ipc"] },
  );
  try {
    const done = /** @type {Promise<{ added: number, failed: number, producedRate: number }>} */ (
      new Promise((resolve, reject) => {
        child.on("message", (/** @type {import("./submitter.mjs").SubmitterMessage} */ m) => {
          if (m.type === "ready") child.send({ type: "go" });
          else if (m.type === "done") resolve(m);
          else reject(new Error(`submitter: ${m.message}`));
        });
        child.once("exit", (code) => reject(new Error(`the submitter process exited (${code}) before it was done`)));
      })
    );
    const { added, failed, producedRate } = await done;
    const deadline = now() + graceMs;
    while (waits.length < added && now() < deadline) await sleep(10);
    const sorted = [...waits].sort((a, b) => a - b);
    return {
      added,
      started: waits.length,
      failed,
      p50: quantile(sorted, 0.5),
      p99: quantile(sorted, 0.99),
      max: sorted.at(-1),
      producedRate,
    };
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
    await driver.stop();
  }
}

/**
 * Starvation: producers keep ~`backlog` priority-10 jobs waiting (each sleeps `sleepMs`, at
 * `concurrency`), while one priority-0 job is added every second, for `seconds`. Reports the
 * longest wait of a priority-0 job; one that never started counts its wait up to the end (censored).
 *
 * @param {Driver} driver
 * @param {Params["fairness"]} options
 */
async function fairness(driver, { seconds, concurrency, backlog, sleepMs }) {
  let addedHigh = 0;
  let startedHigh = 0;
  /** @type {{ t: number, startedAt: number | undefined }[]} */
  const low = [];
  await driver.start({
    concurrency,
    task: "sleep",
    onStart(payload) {
      if (payload.low === undefined) startedHigh++;
      else {
        const job = low[payload.low];
        if (job) job.startedAt = now();
      }
    },
    onComplete() {},
  });
  const begin = now();
  const end = begin + seconds * 1000;
  let nextLow = begin + 500;
  let failures = 0;
  /** @type {Set<Promise<void>>} */
  const adds = new Set();
  const track = (/** @type {Promise<void>} */ p) => {
    adds.add(p);
    p.catch(() => failures++).finally(() => adds.delete(p));
  };
  while (now() < end) {
    const missing = backlog - (addedHigh - startedHigh);
    if (missing > 0) {
      const jobs = Array.from({ length: missing }, (_, i) => ({ priority: 10, payload: makePayload(addedHigh + i, { ms: sleepMs }) }));
      addedHigh += missing;
      track(driver.add(jobs));
    }
    if (now() >= nextLow) {
      const i = low.length;
      const payload = makePayload(i, { ms: sleepMs, low: i });
      low.push({ t: payload.t, startedAt: undefined });
      track(driver.add([{ priority: 0, payload }]));
      nextLow += 1000;
    }
    await sleep(20);
  }
  const stoppedAt = now();
  await Promise.allSettled([...adds]);
  await driver.stop();
  const waits = low.map((j) => ((j.startedAt ?? stoppedAt) - j.t) / 1000);
  return {
    seconds,
    lowAdded: low.length,
    lowStarted: low.filter((j) => j.startedAt !== undefined).length,
    lowMaxWaitS: Math.max(0, ...waits),
    highRate: (startedHigh / (stoppedAt - begin)) * 1000,
    addFailures: failures,
  };
}

/**
 * The scenarios whose first run in a process is a warm-up: the drains and the latency trickles,
 * whose figures are per job and so carry the process's JIT warm-up, lazy imports and first
 * connections. Not the starvation scenario: it measures seconds of waiting, which a warm-up of
 * milliseconds does not move, and its 15 s window would double.
 */
export const WARMED_UP = /** @type {readonly string[]} */ (["drain-c1", "drain-c50", "cpu", "latency", "latency-xproc"]);

/**
 * Runs one scenario against a fresh driver (setup before, cleanup after, even on failure).
 * @param {import("./contenders/common.mjs").Variant} variant
 * @param {string} scenario
 * @param {Params} p
 */
export async function runScenario(variant, scenario, p) {
  /** @type {Ctx} */
  const ctx = {
    concurrency: scenario.startsWith("drain-c1") ? 1 : scenario === "fairness" ? p.fairness.concurrency : 50,
    task: scenario === "cpu" ? "cpu" : scenario === "fairness" ? "sleep" : "noop",
    agingRate: scenario === "fairness" ? p.fairness.agingRate : undefined,
    crossProcess: scenario === "latency-xproc",
    notes: [],
    note(text) {
      ctx.notes.push(text);
    },
  };
  const driver = variant.create(ctx);
  try {
    await driver.setup();
    const result = await runOn(driver, variant, scenario, ctx, p);
    return ctx.notes.length > 0 ? { ...result, notes: ctx.notes } : result;
  } finally {
    await driver.cleanup();
  }
}

/** @param {Driver} driver @param {import("./contenders/common.mjs").Variant} variant @param {string} scenario @param {Ctx} ctx @param {Params} p */
async function runOn(driver, variant, scenario, ctx, p) {
  switch (scenario) {
    case "drain-c1":
    case "drain-c50":
      return await throughput(driver, { n: p.n, concurrency: ctx.concurrency, task: "noop", timeoutMs: p.drainTimeoutMs });
    case "cpu":
      return await throughput(driver, {
        n: p.cpu.n,
        concurrency: ctx.concurrency,
        task: "cpu",
        extra: { iterations: p.cpu.iterations },
        timeoutMs: p.drainTimeoutMs,
      });
    case "latency":
      return await latency(driver, { ...p.latency, concurrency: ctx.concurrency });
    case "latency-xproc":
      return await latencyCrossProcess(driver, variant, ctx, p.latency);
    case "fairness":
      return await fairness(driver, p.fairness);
    case "cleanup":
      return {};
    default:
      throw new TypeError(`unknown scenario ${scenario}`);
  }
}
