// Child process of the scale bench (src/scale.mjs): one store, one backlog size, in a fresh
// process so its peak RSS and CPU time are this measurement's alone. First an untimed warm-up
// (a small backlog through an engine on a store of its own), so the smallest size's per-job
// cost is not mostly JIT and first connections; then it submits the backlog in batches through
// an engine that is not started yet, starts it (no-op async handler) and drains the whole
// backlog, timing each phase and reading the store's size on disk after each.
// The parent owns the SQLite directory and the PostgreSQL schema, and removes them afterwards
// even when this process is killed.
import { existsSync, statSync } from "node:fs";

/**
 * What the parent asks for: the store (a SQLite file path or a postgres:// URL with its schema),
 * which kind it is, the backlog size, the engine's concurrency, the submit batch size, and the
 * warm-up's size and store (of the same kind, used only by the warm-up).
 * @typedef {{ store: string, kind: "sqlite" | "postgres", schema?: string, connectionString?: string,
 *   n: number, concurrency: number, batch: number, warmup: number, warmStore: string }} ScaleChildConfig
 */
/**
 * What one measurement reports. Times in seconds or ms as named; CPU is this process's
 * (user + system, every thread), not the database server's.
 * @typedef {{
 *   n: number, submitS: number, submitRate: number, firstDispatchMs: number, drainS: number, drainRate: number,
 *   cpuSubmitUsPerJob: number, cpuDrainUsPerJob: number, cpuUsPerJob: number, wallUsPerJob: number,
 *   rssAfterSubmitMB: number, maxRssMB: number, dbBytesAfterSubmit: number, dbBytesAfterDrain: number,
 *   completed: number, left: number, warmupS: number,
 * }} ScaleResult
 */

/** CPU time of this process since `since`, in µs. @param {NodeJS.CpuUsage} since */
const cpuSince = (since) => {
  const d = process.cpuUsage(since);
  return d.user + d.system;
};

/**
 * Bytes the store takes on disk: the SQLite file and its WAL, or the PostgreSQL tables of the
 * schema with their indexes and TOAST (`pg_total_relation_size`).
 * @param {ScaleChildConfig} config
 * @returns {Promise<number>}
 */
async function storeBytes({ kind, store, schema, connectionString }) {
  if (kind === "sqlite") {
    let bytes = 0;
    for (const p of [store, `${store}-wal`]) if (existsSync(p)) bytes += statSync(p).size;
    return bytes;
  }
  const { default: pg } = await import("pg");
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    const { rows } = await client.query(
      `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint AS bytes
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')`,
      [schema],
    );
    return Number(/** @type {{ bytes: string }} */ (rows[0]).bytes);
  } finally {
    await client.end();
  }
}

/**
 * Submits `n` no-op jobs to `engine` in batches of `batch`.
 * @param {import("@pyrexis/engine").Engine} engine
 * @param {number} n
 * @param {number} batch
 */
async function submitBacklog(engine, n, batch) {
  for (let start = 0; start < n; start += batch) {
    const specs = [];
    for (let i = start; i < Math.min(n, start + batch); i++) specs.push({ handler: "noop", payload: { seq: i } });
    await engine.submitJobs(specs);
  }
}

/**
 * The warm-up: `n` jobs submitted and drained on `store` the same way as the measurement, untimed.
 * @param {ScaleChildConfig} config
 * @returns {Promise<number>} its seconds
 */
async function warmUp({ warmup: n, warmStore, concurrency, batch }) {
  const t0 = performance.now();
  const { createEngine } = await import("@pyrexis/engine");
  const engine = await createEngine({
    store: warmStore,
    handlers: { noop: async () => null },
    start: false,
    concurrency: { async: concurrency },
  });
  let completed = 0;
  const done = new Promise((resolve) => engine.on("job:completed", () => ++completed === n && resolve(undefined)));
  await submitBacklog(engine, n, batch);
  await engine.start();
  const loop = engine.runLoop();
  await done;
  await engine.flush();
  await engine.shutdown({ graceMs: 1000 });
  await loop;
  return (performance.now() - t0) / 1000;
}

/**
 * One measurement in this process.
 * @param {ScaleChildConfig} config
 * @returns {Promise<ScaleResult>}
 */
async function measure(config) {
  const { n, concurrency, batch } = config;
  const warmupS = config.warmup > 0 ? await warmUp(config) : 0;
  // The warm-up's garbage is not the measurement's to collect (the parent forks with --expose-gc).
  globalThis.gc?.();
  const { createEngine } = await import("@pyrexis/engine");
  /** @type {number | undefined} */
  let firstCall;
  let completed = 0;
  /** @type {() => void} */
  let drained = () => {};
  const done = /** @type {Promise<void>} */ (new Promise((resolve) => (drained = resolve)));
  const engine = await createEngine({
    store: config.store,
    handlers: {
      noop: async () => {
        firstCall ??= performance.now();
        return null;
      },
    },
    // Not started: the backlog is all in the store before the engine dispatches anything.
    start: false,
    concurrency: { async: concurrency },
  });
  engine.on("job:completed", () => {
    if (++completed === n) drained();
  });
  engine.on("engine:error", ({ error, context }) => {
    process.stderr.write(`engine:error ${context}: ${error instanceof Error ? error.stack : String(error)}\n`);
  });

  const cpuSubmit0 = process.cpuUsage();
  const tSubmit = performance.now();
  await submitBacklog(engine, n, batch);
  const submitS = (performance.now() - tSubmit) / 1000;
  const cpuSubmit = cpuSince(cpuSubmit0);
  const rssAfterSubmitMB = process.resourceUsage().maxRSS / 1024;
  const dbBytesAfterSubmit = await storeBytes(config);
  // Nor is the submit phase's the drain's.
  globalThis.gc?.();

  const cpuDrain0 = process.cpuUsage();
  const tDrain = performance.now();
  await engine.start();
  const loop = engine.runLoop();
  await done;
  // Group commit: the last completions are durable once flushed.
  await engine.flush();
  const drainS = (performance.now() - tDrain) / 1000;
  const cpuDrain = cpuSince(cpuDrain0);
  const maxRssMB = process.resourceUsage().maxRSS / 1024;
  const dbBytesAfterDrain = await storeBytes(config);
  const counts = await engine.store.countByStatus();
  await engine.shutdown({ graceMs: 1000 });
  await loop;
  return {
    n,
    submitS,
    submitRate: n / submitS,
    firstDispatchMs: (firstCall ?? Number.NaN) - tDrain,
    drainS,
    drainRate: n / drainS,
    cpuSubmitUsPerJob: cpuSubmit / n,
    cpuDrainUsPerJob: cpuDrain / n,
    cpuUsPerJob: (cpuSubmit + cpuDrain) / n,
    wallUsPerJob: ((submitS + drainS) * 1e6) / n,
    rssAfterSubmitMB,
    maxRssMB,
    dbBytesAfterSubmit,
    dbBytesAfterDrain,
    completed,
    left: n - counts.completed,
    warmupS,
  };
}

if (!process.send) throw new Error("scale-child.mjs runs only as a child forked by scale.mjs (with an IPC channel)");
const config = /** @type {ScaleChildConfig} */ (JSON.parse(process.argv[2] ?? "{}"));
const result = await measure(config);
await /** @type {Promise<void>} */ (new Promise((resolve) => process.send?.(result, () => resolve())));
// A driver's stray timer must not hold the run.
process.exit(0);
