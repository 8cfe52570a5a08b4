import { createEngine, serveMetrics, type Engine, type Logger, type RetentionOptions, type RetentionRule } from "@pyrexis/engine";
import { parseDuration } from "../duration.js";
import { UsageError } from "../errors.js";
import { formatDuration } from "../format.js";
import type { CliIo } from "../io.js";
import { assertStoreFile, resolveHandlersPath, resolveStorePath } from "../store.js";
import { parseGroupWeightFlags, parseLimitFlags } from "../flow-flags.js";
import { CLI_MODES } from "../modes.js";

/** Options of `pyrexis worker`. */
export interface WorkerOptions {
  store?: string | undefined;
  handlers?: string | undefined;
  concurrency?: string | undefined;
  async?: number | undefined;
  thread?: number | undefined;
  process?: number | undefined;
  graceMs?: number | undefined;
  /** How often an idle worker checks the store for work other processes wrote (ms; the engine's default when absent). */
  pollMs?: number | undefined;
  /** The old name of `pollMs` (0 meant "never": now the default is kept). */
  rescanMs?: number | undefined;
  /** Lease length of claimed jobs (ms). */
  leaseMs?: number | undefined;
  /** Jobs claimed ahead of free slots. */
  prefetch?: number | undefined;
  /** Route failed jobs to this handler (the engine's `deadLetter`). */
  deadLetter?: string | undefined;
  /** Serve Prometheus metrics on this port (`/metrics`, bound to 127.0.0.1; 0: any free port). */
  metricsPort?: number | undefined;
  /** Named limits, `name=<units>/<duration>[,max=<n>]` or `name=max=<n>` each (see the flow-flags parser). */
  limit?: string[] | undefined;
  /** Dispatch shares of groups, `name=weight` each (or comma lists). */
  groupWeight?: string[] | undefined;
  /** Retention: delete completed jobs older than this duration (`7d`). */
  keepCompleted?: string | undefined;
  /** Retention: delete failed jobs older than this duration. */
  keepFailed?: string | undefined;
  /** Retention: delete cancelled jobs older than this duration. */
  keepCancelled?: string | undefined;
  /** Retention: keep at most this many of the newest jobs of each finished status. */
  keepCount?: number | undefined;
  /** Retention: time between pruning rounds (a duration, default 1m). */
  pruneInterval?: string | undefined;
  exitWhenDrained?: boolean | undefined;
  quiet?: boolean | undefined;
  verbose?: boolean | undefined;
}

/** Default concurrency per mode (the brief's `async=64,thread=2,process=2`). */
export const DEFAULT_CONCURRENCY: Readonly<Record<string, number>> = Object.freeze({ async: 64, thread: 2, process: 2 });

/**
 * Parses `async=64,thread=2,process=2` (any subset) or a single number for every mode.
 * Separate flags (`--async 8`) win over the list.
 */
export function parseConcurrency(
  spec: string | undefined,
  flags: Partial<Record<string, number | undefined>> = {},
): Record<string, number> {
  const out: Record<string, number> = { ...DEFAULT_CONCURRENCY };
  const check = (mode: string, raw: string): number => {
    const n = Number(raw);
    if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < 1) {
      throw new UsageError(`--concurrency: ${mode} must be an integer >= 1, got "${raw}"`);
    }
    return n;
  };
  if (spec !== undefined) {
    if (/^\s*\d+\s*$/.test(spec)) {
      const n = check("every mode", spec);
      for (const m of CLI_MODES) out[m] = n;
    } else {
      for (const part of spec.split(",")) {
        const [mode, value, extra] = part.split("=").map((s) => s.trim());
        if (!mode || value === undefined || extra !== undefined) {
          throw new UsageError(`--concurrency: expected mode=N pairs like async=64,thread=2,process=2, got "${part}"`);
        }
        if (!CLI_MODES.includes(mode)) throw new UsageError(`--concurrency: unknown mode "${mode}" (one of ${CLI_MODES.join(", ")})`);
        out[mode] = check(mode, value);
      }
    }
  }
  for (const m of CLI_MODES) {
    const v = flags[m];
    if (v !== undefined) out[m] = v;
  }
  return out;
}

/** The engine's claim settings from the worker's flags (`--rescan-ms` is the old name of `--poll-ms`). */
function claimOptions(options: WorkerOptions): {
  pollIntervalMs?: number;
  leaseMs?: number;
  renewIntervalMs?: number;
  prefetch?: number;
  rescanIntervalMs: number;
} {
  const poll = options.pollMs ?? (options.rescanMs !== undefined && options.rescanMs > 0 ? options.rescanMs : undefined);
  // A store without claims (none the CLI opens today) finds other processes' jobs by rescanning.
  const out: ReturnType<typeof claimOptions> = { rescanIntervalMs: poll ?? 1000 };
  if (poll !== undefined) out.pollIntervalMs = poll;
  if (options.leaseMs !== undefined) {
    if (options.leaseMs < 30) throw new UsageError(`--lease-ms must be at least 30, got ${options.leaseMs}`);
    out.leaseMs = options.leaseMs;
    out.renewIntervalMs = Math.floor(options.leaseMs / 3);
  }
  if (options.prefetch !== undefined) out.prefetch = options.prefetch;
  return out;
}

/**
 * The engine's `retention` option from the worker's flags, or `undefined` when none is given:
 * `--keep-completed/--keep-failed/--keep-cancelled <duration>` set each status's age limit,
 * `--keep-count <n>` a count limit for every finished status (a job goes once it exceeds either),
 * `--prune-interval <duration>` the time between rounds. Bad values are usage errors.
 */
export function retentionOf(options: WorkerOptions): RetentionOptions | undefined {
  const ages = {
    completed: options.keepCompleted === undefined ? undefined : parseDuration(options.keepCompleted, "--keep-completed"),
    failed: options.keepFailed === undefined ? undefined : parseDuration(options.keepFailed, "--keep-failed"),
    cancelled: options.keepCancelled === undefined ? undefined : parseDuration(options.keepCancelled, "--keep-cancelled"),
  };
  const count = options.keepCount;
  const intervalMs = options.pruneInterval === undefined ? undefined : parseDuration(options.pruneInterval, "--prune-interval");
  const rules: Record<string, RetentionRule> = {};
  for (const status of ["completed", "failed", "cancelled"] as const) {
    const maxAgeMs = ages[status];
    if (maxAgeMs === undefined && count === undefined) continue;
    rules[status] = { ...(maxAgeMs !== undefined ? { maxAgeMs } : {}), ...(count !== undefined ? { maxCount: count } : {}) };
  }
  if (Object.keys(rules).length === 0) {
    if (intervalMs !== undefined)
      throw new UsageError("--prune-interval needs --keep-completed, --keep-failed, --keep-cancelled or --keep-count");
    return undefined;
  }
  return { ...rules, ...(intervalMs !== undefined ? { intervalMs: Math.min(intervalMs, 2_147_483_647) } : {}) };
}

function stderrLogger(io: CliIo): Logger {
  const line =
    (level: string) =>
    (objOrMsg: unknown, msg?: string): void => {
      const text = msg ?? (typeof objOrMsg === "string" ? objOrMsg : JSON.stringify(objOrMsg));
      io.stderr.write(`pyrexis: ${level}: ${text}\n`);
    };
  return { debug: () => {}, info: line("info"), warn: line("warning"), error: () => {} };
}

/**
 * `pyrexis worker`: runs an engine on the store until SIGINT/SIGTERM (graceful, up to
 * `--grace-ms`; a second signal forces), until the reader of its stdout goes away (also graceful)
 * or, with `--exit-when-drained`, until it finds no job left. Any number of workers may share one
 * store file: each claims jobs under a lease (see the engine's claims), so each job runs on one of
 * them, and jobs other processes submit start on whichever worker has room.
 */
export async function workerCommand(options: WorkerOptions, io: CliIo): Promise<number> {
  const storePath = resolveStorePath(options.store, io);
  const handlers = resolveHandlersPath(options.handlers, io);
  if (handlers === undefined) throw new UsageError("worker needs a handlers module: --handlers <module> or PYREXIS_HANDLERS");
  const concurrency = parseConcurrency(options.concurrency, { async: options.async, thread: options.thread, process: options.process });
  const retention = retentionOf(options);
  const limits = parseLimitFlags(options.limit);
  const groupWeights = parseGroupWeightFlags(options.groupWeight);
  await assertStoreFile(storePath);
  const engine = await createEngine({
    store: storePath,
    handlers,
    concurrency,
    ...(options.graceMs !== undefined ? { shutdownGraceMs: options.graceMs } : {}),
    ...claimOptions(options),
    ...(options.deadLetter !== undefined ? { deadLetter: { handler: options.deadLetter } } : {}),
    ...(retention !== undefined ? { retention } : {}),
    ...(limits !== undefined ? { limits } : {}),
    ...(groupWeights !== undefined ? { groupWeights } : {}),
    ...(options.verbose ? { logger: stderrLogger(io) } : {}),
  });
  const graceMs = options.graceMs ?? 10_000;
  const stats = { completed: 0, failed: 0, cancelled: 0, retries: 0, errors: 0 };
  const started = performance.now();
  const say = (s: string): void => void io.stdout.write(`${s}\n`);
  wireEvents(engine, stats, io, !options.quiet, options.verbose === true);

  let forced = false;
  let signalled: string | undefined;
  const removeSignals = engine.shutdownCoordinator.installSignalHandlers({
    onSignal: (signal) => {
      signalled = signal;
      io.stderr.write(
        `pyrexis: ${signal} received, shutting down gracefully (up to ${graceMs} ms for running jobs; send it again to force)\n`,
      );
      return engine.shutdown({ graceMs });
    },
    onForce: (signal) => {
      forced = true;
      io.stderr.write(`pyrexis: ${signal} received again, forcing shutdown (running jobs go back to retrying)\n`);
      return engine.forceShutdown();
    },
  });
  // `pyrexis worker | head`: nobody reads the job lines any more; stop as gracefully as on SIGTERM.
  const onOutputClosed = (): void => {
    signalled ??= "stdout was closed";
    void engine.shutdown({ graceMs }).catch(() => {});
  };
  io.outputClosed?.addEventListener("abort", onOutputClosed, { once: true });
  if (options.exitWhenDrained) {
    engine.on("engine:drained", () => {
      say("drained: no jobs left");
      void engine.shutdown({ graceMs }).catch(() => {});
    });
  }
  if (options.metricsPort !== undefined) {
    try {
      const server = await serveMetrics(engine, { port: options.metricsPort });
      say(`metrics on ${server.url}/metrics`);
    } catch (error) {
      await engine.shutdown({ graceMs: 0 }).catch(() => {});
      throw new UsageError(`--metrics-port ${options.metricsPort}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  // A store with claims (the SQLite store) queues nothing in the engine up front: every due job
  // in the store is this worker's to claim, shared with the other workers on the file.
  const counts = engine.store.capabilities.claims === true ? await engine.countByStatus() : undefined;
  const queued = counts === undefined ? engine.queuedCount : counts.pending + counts.retrying;
  say(
    `worker started: store ${storePath}, ${queued} job(s) queued, concurrency ${CLI_MODES.map((m) => `${m}=${concurrency[m]}`).join(",")}`,
  );
  let failure: { error: unknown } | undefined;
  try {
    await engine.runLoop();
    await engine.shutdown();
  } catch (error) {
    failure = { error };
  } finally {
    removeSignals();
    io.outputClosed?.removeEventListener("abort", onOutputClosed);
  }
  const secs = (performance.now() - started) / 1000;
  say(
    `summary: ${stats.completed} completed, ${stats.failed} failed, ${stats.cancelled} cancelled, ${stats.retries} retries in ${formatDuration(secs * 1000)}` +
      ` (${((stats.completed + stats.failed) / Math.max(secs, 0.001)).toFixed(1)} jobs/s)`,
  );
  if (failure) throw failure.error;
  const how = forced ? "shut down (forced: interrupted jobs went back to retrying)" : "shut down gracefully";
  io.stderr.write(`pyrexis: ${how}${signalled ? ` after ${signalled}` : ""}\n`);
  return 0;
}

function wireEvents(
  engine: Engine,
  stats: { completed: number; failed: number; cancelled: number; retries: number; errors: number },
  io: CliIo,
  lines: boolean,
  verbose: boolean,
): void {
  const say = (s: string): void => void io.stdout.write(`${s}\n`);
  engine.on("job:completed", ({ job, result }) => {
    stats.completed++;
    if (lines) say(`completed ${job.id} ${job.handler} in ${formatDuration(result.durationMs)} (attempt ${result.attempts})`);
  });
  engine.on("job:failed", ({ job, result }) => {
    stats.failed++;
    if (lines) say(`failed    ${job.id} ${job.handler} after ${result.attempts} attempt(s): ${result.error?.message ?? "unknown error"}`);
  });
  engine.on("job:cancelled", ({ job }) => {
    stats.cancelled++;
    if (lines) say(`cancelled ${job.id} ${job.handler}`);
  });
  engine.on("job:retrying", ({ job, error, delayMs }) => {
    stats.retries++;
    if (lines) say(`retrying  ${job.id} ${job.handler} in ${formatDuration(delayMs)} (attempt ${job.attempts} failed: ${error.message})`);
  });
  if (verbose) {
    engine.on("job:started", ({ job, attempt }) => say(`started   ${job.id} ${job.handler} (${job.mode}, attempt ${attempt})`));
    engine.on("job:progress", ({ jobId, value }) => say(`progress  ${jobId} ${JSON.stringify(value)}`));
  }
  engine.on("engine:error", ({ error, context }) => {
    stats.errors++;
    const message = error instanceof Error ? error.message : String(error);
    io.stderr.write(`pyrexis: warning: ${context}: ${message}`.replace(/\s*\n\s*/g, " ") + "\n");
  });
}
