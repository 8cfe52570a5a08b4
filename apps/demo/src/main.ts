#!/usr/bin/env node
// The Pyrexis demo: a batch of AI-inference jobs on the embedded SQLite store, with live progress,
// graceful Ctrl-C and resume. See README.md.
import { mkdir, rm } from "node:fs/promises";
import { dirname } from "node:path";
import { createEngine, type Engine } from "@pyrexis/engine";
import { MetricsRegistry } from "@pyrexis/metrics";
import { isPyrexisError, isTerminal, JOB_STATUSES, type Job, type JobStatus } from "@pyrexis/models";
import { parseDemoArgs, shownPath, USAGE, type DemoArgs } from "./args.js";
import { buildBatch, MODEL_API_LIMIT } from "./corpus.js";
import type { DemoOutput } from "./handlers.js";
import { ProgressView, type ModeProgress, type ProgressState } from "./progress.js";
import { table, timingRows } from "./summary.js";

const say = (s = ""): void => void process.stdout.write(`${s}\n`);
const GRACE_MS = 5000;
/** The simulated model API's budget: tokens per second and calls at once (it binds on a default batch). */
const MODEL_API_TOKENS_PER_SECOND = 20_000;
const MODEL_API_MAX_CONCURRENT = 16;

async function allJobs(engine: Engine): Promise<Job[]> {
  const jobs: Job[] = [];
  let cursor: string | undefined;
  do {
    const page = await engine.listJobs({ limit: 10_000, cursor });
    jobs.push(...page.jobs);
    cursor = page.cursor;
  } while (cursor !== undefined);
  return jobs;
}

async function run(args: DemoArgs): Promise<number> {
  if (args.fresh) {
    await Promise.all(["", "-wal", "-shm"].map((suffix) => rm(args.store + suffix, { force: true })));
  }
  await mkdir(dirname(args.store), { recursive: true });
  const engine = await createEngine({
    store: args.store,
    handlers: new URL("./handlers.js", import.meta.url),
    concurrency: args.concurrency,
    thread: { maxWorkers: args.concurrency.thread },
    process: { maxWorkers: args.concurrency.process },
    shutdownGraceMs: GRACE_MS,
    // analyze jobs wait for room on it (never fail for it) and charge what each call used.
    limits: { [MODEL_API_LIMIT]: { rate: { units: MODEL_API_TOKENS_PER_SECOND, perMs: 1000 }, maxConcurrent: MODEL_API_MAX_CONCURRENT } },
  });

  const where = shownPath(args.store);
  // Recovery already ran: jobs left by an interrupted run are queued again.
  let jobs = await allJobs(engine);
  const modes: Record<string, ModeProgress> = {
    async: { total: 0, done: 0, failed: 0, retries: 0 },
    thread: { total: 0, done: 0, failed: 0, retries: 0 },
    process: { total: 0, done: 0, failed: 0, retries: 0 },
  };
  if (jobs.length === 0) {
    const specs = buildBatch(args.size, args.seed);
    jobs = await engine.submitJobs(specs);
    say(`new batch: ${jobs.length} documents (seed ${args.seed}) in ${where}`);
  } else {
    const left = jobs.filter((j) => !isTerminal(j.status)).length;
    if (left > 0)
      say(
        `resuming: ${left} jobs left from a previous run (${jobs.length - left} of ${jobs.length} already finished; --fresh starts over)`,
      );
    else say(`nothing to do: the batch in ${where} finished (${jobs.length} jobs); --fresh starts a new one`);
  }
  for (const j of jobs) {
    const m = (modes[j.mode] ??= { total: 0, done: 0, failed: 0, retries: 0 });
    m.total++;
    if (isTerminal(j.status)) m.done++;
    if (j.status === "failed") m.failed++;
  }
  say(
    `concurrency async=${args.concurrency.async} thread=${args.concurrency.thread} process=${args.concurrency.process}; ` +
      `Ctrl-C shuts down gracefully, run again to resume`,
  );

  const state: ProgressState = { modes, finishedThisRun: 0, startedAt: Date.now() };
  const stages = new MetricsRegistry();
  const failures: string[] = [];
  let tokensUsed = 0;
  const finished = (job: Job, failed: boolean): void => {
    const m = modes[job.mode];
    if (m) {
      m.done++;
      if (failed) m.failed++;
    }
    state.finishedThisRun++;
  };
  engine.on("job:completed", ({ job, result }) => {
    finished(job, false);
    const out = result.output as DemoOutput | undefined;
    for (const [name, t] of Object.entries(out?.stageMs ?? {})) stages.observe(`${job.handler}/${name}`, t);
    if (job.handler === "analyze") tokensUsed += Number(out?.result["tokens"] ?? 0);
  });
  engine.on("job:failed", ({ job, result }) => {
    finished(job, true);
    failures.push(`${job.id}: ${result.error?.message ?? "?"}`);
  });
  engine.on("job:cancelled", ({ job }) => finished(job, false));
  engine.on("job:retrying", ({ job }) => {
    const m = modes[job.mode];
    if (m) m.retries++;
  });

  let finalCounts: Record<JobStatus, number> | undefined;
  engine.on("engine:drained", () => {
    void (async () => {
      finalCounts = await engine.countByStatus();
      await engine.shutdown();
    })().catch((e: unknown) => say(`error while finishing: ${String(e)}`));
  });

  const view = new ProgressView(process.stdout);
  let interrupted = false;
  engine.shutdownCoordinator.installSignalHandlers({
    onSignal: (signal) => {
      if (finalCounts) return; // already finishing
      interrupted = true;
      view.release();
      say(`\n${signal}: shutting down gracefully (running jobs get up to ${GRACE_MS / 1000} s; press Ctrl-C again to force)`);
      return engine.shutdown();
    },
    onForce: () => {
      say("forcing shutdown: running jobs go back to the queue for the next run");
      return engine.forceShutdown();
    },
  });

  view.draw(state);
  const ticker = setInterval(() => view.draw(state), process.stdout.isTTY ? 200 : 1000);
  try {
    await engine.runLoop();
  } finally {
    clearInterval(ticker);
  }
  view.draw(state);
  const secs = (Date.now() - state.startedAt) / 1000;
  const metrics = engine.getMetrics();
  const retries = metrics.getCounters()["job.retries"] ?? 0;

  if (interrupted) {
    const total = Object.values(modes).reduce((n, m) => n + m.total, 0);
    const done = Object.values(modes).reduce((n, m) => n + m.done, 0);
    say(`shut down gracefully: ${done}/${total} jobs finished, ${total - done} left; run again to resume`);
    return 130;
  }

  say("\nsummary");
  const counts = finalCounts ?? Object.fromEntries(JOB_STATUSES.map((s) => [s, 0]));
  say(
    table(
      ["status", "jobs"],
      JOB_STATUSES.filter((s) => counts[s] > 0).map((s) => [s, counts[s]]),
    ),
  );
  const total = JOB_STATUSES.reduce((n, s) => n + counts[s], 0);
  say(
    `total ${total} jobs; this run finished ${state.finishedThisRun} in ${secs.toFixed(1)} s (${(state.finishedThisRun / Math.max(secs, 0.001)).toFixed(1)} jobs/s), ${retries} retries`,
  );
  say();
  say(
    table(
      ["latency (this run)", "n", "p50", "p95", "p99", "max"],
      timingRows(metrics.getTimings(), ["job.execution", "job.queue_wait", "flow.wait"]),
    ),
  );
  say(
    `model API budget: ${MODEL_API_TOKENS_PER_SECOND.toLocaleString("en-US")} tokens/s, ${MODEL_API_MAX_CONCURRENT} calls at once; ` +
      `this run charged ${tokensUsed.toLocaleString("en-US")} tokens (flow.wait: how long jobs waited for the budget)`,
  );
  say();
  const stageTimings = stages.getTimings();
  say(table(["pipeline stage", "n", "p50", "p95", "p99", "max"], timingRows(stageTimings, Object.keys(stageTimings).sort())));
  if (failures.length > 0) {
    say();
    say(`failed jobs (${failures.length}):`);
    for (const f of failures.slice(0, 5)) say(`  ${f}`);
    if (failures.length > 5) say(`  … and ${failures.length - 5} more (pnpm pyrexis list --status failed --store ${where})`);
  }
  say();
  // The CLI command of a clone (the demo only exists in one): builds the CLI if needed.
  say(`look inside the store: pnpm pyrexis list --store ${where} (also status, metrics, monitor)`);
  return 0;
}

async function main(): Promise<number> {
  let args: DemoArgs;
  try {
    args = parseDemoArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`demo: error: ${(e as Error).message.replace(/\s*\n\s*/g, " ")}\n${"Try --help."}\n`);
    return 2;
  }
  if (args.help) {
    say(USAGE);
    return 0;
  }
  try {
    return await run(args);
  } catch (e) {
    const message = isPyrexisError(e) ? `${e.code}: ${e.message}` : e instanceof Error ? e.message : String(e);
    process.stderr.write(`demo: error: ${message.replace(/\s*\n\s*/g, " ")}\n`);
    return 1;
  }
}

const code = await main();
process.exitCode = code;
// Everything is closed by now; never hang the terminal on a stray handle.
setTimeout(() => process.exit(code), 2000).unref();
