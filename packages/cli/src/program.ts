import { readFileSync } from "node:fs";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { MAX_PRIORITY, MIN_PRIORITY } from "@pyrexis/models";
import { CLI_MODES } from "./modes.js";
import { EXIT_OK, exitCodeOf, oneLine } from "./errors.js";
import { processIo, type CliIo } from "./io.js";

function version(): string {
  try {
    return (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}

/** A commander parser for an integer flag in `[min, max]`; anything else is a usage error. */
/** A comma-separated list of ids (`a,b`), each trimmed and non-empty. */
function idList(value: string): string[] {
  const ids = value.split(",").map((v) => v.trim());
  if (ids.some((v) => v === "")) throw new InvalidArgumentError("give comma-separated job ids, none empty");
  return ids;
}

function int(min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) throw new InvalidArgumentError(`must be an integer, got "${value}".`);
    if (n < min || n > max) {
      throw new InvalidArgumentError(
        max === Number.MAX_SAFE_INTEGER ? `must be >= ${min}, got ${n}.` : `must be between ${min} and ${max}, got ${n}.`,
      );
    }
    return n;
  };
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

const storeOption = (): Option =>
  new Option("--store <path>", "SQLite database file, or a postgres:// URL (env PYREXIS_STORE; default ./pyrexis.db)");
const handlersOption = (what: string): Option => new Option("--handlers <module>", `handlers module (env PYREXIS_HANDLERS); ${what}`);

/**
 * Builds the `pyrexis` program. Each command's action stores its exit code in `result`.
 * Commander is told not to exit the process and to write through `io`.
 */
function buildProgram(io: CliIo, result: { code: number }): Command {
  const program = new Command("pyrexis")
    .description("Submit, inspect, cancel and run Pyrexis jobs stored in a SQLite database.")
    .version(version(), "-V, --version")
    .exitOverride()
    .showSuggestionAfterError(true)
    .configureOutput({
      writeOut: (s) => void io.stdout.write(s),
      writeErr: (s) => void io.stderr.write(s),
      // Errors are printed once, as one line, by runCli.
      outputError: () => {},
    })
    .addHelpText(
      "after",
      "\nExit codes: 0 ok, 1 runtime error (missing/foreign database, unknown job…), 2 usage error (bad flag, JSON, spec, handler).",
    );
  // Commands are imported when they run: `status` need not load the engine and its worker pools.
  const run = (fn: () => Promise<number>): Promise<void> => fn().then((code) => void (result.code = code));

  program
    .command("submit")
    .description(
      "Submit one job (<handler> [payload JSON]) or many from a JSON Lines file (--file jobs.jsonl, or - for stdin). " +
        "All or nothing: one bad line writes nothing. Creates the database if missing.",
    )
    .argument("[handler]", "handler name")
    .argument("[payload]", "JSON payload (default null)")
    .addOption(storeOption())
    .addOption(
      handlersOption(
        "when given, handler names are checked against it; without it any name is accepted and an unknown one fails when a worker runs it",
      ),
    )
    .option("--priority <n>", `priority ${MIN_PRIORITY}-${MAX_PRIORITY}, higher runs first (default 5)`, int(MIN_PRIORITY, MAX_PRIORITY))
    .addOption(new Option("--mode <mode>", "execution mode (default async)").choices(CLI_MODES))
    .option("--max-attempts <n>", "total runs including the first (default 3)", int(1, 1000))
    .option("--delay <ms>", "run no earlier than this many ms from now", int(0))
    .option("--id <id>", "job id (default: a generated time-ordered id)")
    .option("--timeout <ms>", "per-attempt time limit in ms", int(1))
    .option(
      "--depends-on <ids>",
      "comma-separated ids of jobs that must complete first (a failed or cancelled one fails or cancels this job); in a --file, give dependsOn per line",
      idList,
    )
    .option(
      "--limit <key[:units]>",
      "a limit the job uses, with its weight (default 1), e.g. --limit openai:1200 (repeatable, or a comma list); the worker defines the limits with its own --limit",
      collect,
    )
    .option("--use <key[=units]>", "the same as --limit (key=units or key:units)", collect)
    .option("--group <name>", "fair-sharing group (tenant) of the job; workers share dispatch among groups by --group-weight")
    .option("--file <path>", 'JSON Lines file of job specs ({"handler":…,"payload":…,"dependsOn":[…]} per line), - for stdin')
    .addOption(
      new Option(
        "--if-exists <what>",
        "when a given id already exists: error (exit 1, nothing written) or return (print the existing job; safe to retry)",
      )
        .choices(["error", "return"])
        .default("error"),
    )
    .option("--json", "print the created job record(s) as JSON")
    .action((handler: string | undefined, payload: string | undefined, opts: Record<string, unknown>) =>
      run(async () => (await import("./commands/submit.js")).submitCommand(handler, payload, opts, io)),
    );

  program
    .command("status")
    .description("Show a job and, once it finished, its result.")
    .argument("<id>", "job id")
    .addOption(storeOption())
    .option("--json", "print { job, result } as JSON")
    .action((id: string, opts: Record<string, unknown>) =>
      run(async () => (await import("./commands/status.js")).statusCommand(id, opts, io)),
    );

  program
    .command("cancel")
    .description(
      "Cancel a pending, retrying or running job. A job running in another process's worker is marked cancelled, " +
        "and that worker stops it at its next lease renewal.",
    )
    .argument("<id>", "job id")
    .addOption(storeOption())
    .option("--json", "print the cancelled job as JSON")
    .action((id: string, opts: Record<string, unknown>) =>
      run(async () => (await import("./commands/cancel.js")).cancelCommand(id, opts, io)),
    );

  program
    .command("dead-letters")
    .description("List failed jobs, oldest first, with their last error (filter by handler and error code).")
    .addOption(storeOption())
    .option("--handler <name>", "only jobs of these handlers (repeatable, or a comma list)", collect)
    .option(
      "--error-code <code>",
      "only jobs whose last error has this code, or this name when it has none (repeatable, or a comma list)",
      collect,
    )
    .option("--limit <n>", "at most this many jobs (default 20)", int(1, 10_000))
    .option("--cursor <cursor>", "continue after a previous page")
    .option("--json", "print { jobs, cursor } as JSON")
    .action((opts: Record<string, unknown>) => run(async () => (await import("./commands/dead-letters.js")).deadLettersCommand(opts, io)));

  program
    .command("redrive")
    .description(
      "Give failed jobs a new pending job each (id <id>.retry-<n>; the failed job and its result stay): one by <id>, " +
        "or every failed job the filters match. Safe to repeat: a job redriven before is skipped.",
    )
    .argument("[id]", "the failed or cancelled job to redrive")
    .addOption(storeOption())
    .option("--handler <name>", "only jobs of these handlers (repeatable, or a comma list)", collect)
    .option("--error-code <code>", "only jobs whose last error has this code (or name)", collect)
    .option("--status <status>", "failed (default) and/or cancelled", collect)
    .option("--all", "every failed job (when no other filter is given)")
    .option("--max <n>", "at most this many new jobs (default 1000)", int(1, 10_000))
    .option("--dry-run", "only count what would be redriven")
    .option("--json", "print the new job, or the report, as JSON")
    .action((id: string | undefined, opts: Record<string, unknown>) =>
      run(async () => (await import("./commands/redrive.js")).redriveCommand(id, opts, io)),
    );

  program
    .command("list")
    .description("List jobs, newest first.")
    .addOption(storeOption())
    .option("--status <status>", "only these statuses (repeatable, or a comma list)", collect)
    .option("--limit <n>", "at most this many jobs (default 20)", int(1, 10_000))
    .option("--cursor <cursor>", "continue after a previous page")
    .option("--json", "print { jobs, cursor } as JSON")
    .action((opts: Record<string, unknown>) => run(async () => (await import("./commands/list.js")).listCommand(opts, io)));

  program
    .command("worker")
    .description(
      "Run the jobs in the store until SIGINT/SIGTERM (graceful: running jobs get --grace-ms to finish; a second signal forces). " +
        "Runs the jobs in the store and picks up jobs submitted later by other processes. Run as many workers on one store as you like: " +
        "each job runs on one of them (claims with leases; a worker that dies gives its jobs back when its lease expires, at once on this machine).",
    )
    .addOption(storeOption())
    .addOption(handlersOption("required"))
    .option("--concurrency <spec>", "per mode, e.g. async=64,thread=2,process=2 (the default), or one number for all")
    .option("--async <n>", "async concurrency (wins over --concurrency)", int(1))
    .option("--thread <n>", "thread concurrency (wins over --concurrency)", int(1))
    .option("--process <n>", "process concurrency (wins over --concurrency)", int(1))
    .option("--grace-ms <ms>", "how long running jobs may finish on shutdown (default 10000)", int(0))
    .option("--poll-ms <ms>", "how often an idle worker checks the store for new work (default 10)", int(1, 60_000))
    .option(
      "--lease-ms <ms>",
      "lease of a claimed job: another worker takes it over this long after this one stops renewing (default 30000)",
      int(30, 86_400_000),
    )
    .option("--prefetch <n>", "jobs claimed ahead of free slots (default 0)", int(0, 10_000))
    .option(
      "--limit <name=spec>",
      "a named limit jobs use (submit --limit key:units): name=<units>/<duration> for a rate, name=max=<n> for a concurrency cap, or both, " +
        "e.g. openai=90000/1m,max=16 (repeatable; per worker process: N workers admit up to N times the limit)",
      collect,
    )
    .option(
      "--group-weight <name=weight>",
      "dispatch share of a group (default 1 each), e.g. tenant-a=3 (repeatable, or a comma list)",
      collect,
    )
    .option("--dead-letter <handler>", "route every job that ends failed to this handler (a job <id>.dead-letter with its input and error)")
    .option("--metrics-port <port>", "serve Prometheus metrics on http://127.0.0.1:<port>/metrics (0: any free port)", int(0, 65_535))
    .option("--keep-completed <duration>", "retention: delete completed jobs (and results) older than this, e.g. 7d, 36h")
    .option("--keep-failed <duration>", "retention: delete failed jobs older than this, e.g. 30d")
    .option("--keep-cancelled <duration>", "retention: delete cancelled jobs older than this")
    .option("--keep-count <n>", "retention: keep at most the newest n jobs of each finished status", int(1, 2_147_483_647))
    .option("--prune-interval <duration>", "retention: time between pruning rounds (default 1m)")
    .addOption(new Option("--rescan-ms <ms>", "old name of --poll-ms").argParser(int(0)).hideHelp())
    .option("--exit-when-drained", "shut down once no job is queued or running")
    .option("-q, --quiet", "print only the start line and the summary, not a line per job")
    .option("-v, --verbose", "also print started and progress events, and engine logs")
    .action((opts: Record<string, unknown>) => run(async () => (await import("./commands/worker.js")).workerCommand(opts, io)));

  const schedule = program
    .command("schedule")
    .description(
      "Cron schedules kept in the store: every worker on the store submits their ticks, exactly one job per tick across workers.",
    );
  schedule
    .command("add")
    .description(
      "Add a schedule: <name> <cron> (five fields, or @hourly/@daily…) <handler> [payload JSON]. " +
        "The same definition again changes nothing; another one under the name is refused (remove it first).",
    )
    .argument("<name>", "schedule name: letters, digits and _ . : - (part of each tick's job id)")
    .argument("<cron>", 'cron expression, e.g. "*/5 * * * *" (quote it)')
    .argument("<handler>", "handler name")
    .argument("[payload]", "JSON payload (default null)")
    .addOption(storeOption())
    .addOption(handlersOption("when given, the handler name is checked against it"))
    .option("--timezone <zone>", "IANA timezone the expression is read in (default UTC)")
    .option("--catch-up", "after a time with no worker running, submit the missed ticks (the latest --catch-up-limit)")
    .option("--catch-up-limit <n>", "most missed ticks one catch-up submits (default 10)", int(1, 1000))
    .option("--priority <n>", `priority ${MIN_PRIORITY}-${MAX_PRIORITY} of each tick's job (default 5)`, int(MIN_PRIORITY, MAX_PRIORITY))
    .addOption(new Option("--mode <mode>", "execution mode (default async)").choices(CLI_MODES))
    .option("--max-attempts <n>", "total runs including the first (default 3)", int(1, 1000))
    .option("--timeout <ms>", "per-attempt time limit in ms", int(1))
    .option("--json", "print { created, schedule } as JSON")
    .action((name: string, cron: string, handler: string, payload: string | undefined, opts: Record<string, unknown>) =>
      run(async () => (await import("./commands/schedule.js")).scheduleAddCommand(name, cron, handler, payload, opts, io)),
    );
  schedule
    .command("list")
    .description("List the schedules with their last and next tick.")
    .addOption(storeOption())
    .option("--json", "print the schedules as JSON")
    .action((opts: Record<string, unknown>) => run(async () => (await import("./commands/schedule.js")).scheduleListCommand(opts, io)));
  schedule
    .command("remove")
    .description("Remove a schedule: no later tick submits a job (jobs already submitted stay).")
    .argument("<name>", "schedule name")
    .addOption(storeOption())
    .option("--json", "print { removed } as JSON")
    .action((name: string, opts: Record<string, unknown>) =>
      run(async () => (await import("./commands/schedule.js")).scheduleRemoveCommand(name, opts, io)),
    );

  program
    .command("prune")
    .description(
      "Delete finished jobs and their results once: those older than --older-than and/or beyond the newest --keep-count " +
        "of each status. Only completed, failed and cancelled jobs are ever deleted; safe while workers run.",
    )
    .addOption(storeOption())
    .option("--older-than <duration>", "delete jobs that finished longer ago than this, e.g. 7d, 36h, 90m")
    .option("--keep-count <n>", "keep only the newest n jobs of each status", int(0, 2_147_483_647))
    .option("--status <status>", "only these finished statuses (repeatable, or a comma list; default all three)", collect)
    .option("--batch <n>", "jobs deleted per store transaction (default 500)", int(1, 10_000))
    .option("--dry-run", "count what would be deleted; delete nothing")
    .option("--vacuum", "SQLite: then rewrite the file compactly and switch it to incremental auto-vacuum (run when workers are idle)")
    .option("--json", "print { dryRun, deleted, total } as JSON")
    .action((opts: Record<string, unknown>) => run(async () => (await import("./commands/prune.js")).pruneCommand(opts, io)));

  program
    .command("metrics")
    .description("Jobs by status, and duration / queue-wait / turnaround percentiles of the most recent finished jobs.")
    .addOption(storeOption())
    .option("--limit <n>", "how many recent finished jobs to sample (default 1000)", int(1, 10_000))
    .option("--prometheus", "print Prometheus text exposition")
    .option("--json", "print as JSON")
    .action((opts: Record<string, unknown>) => run(async () => (await import("./commands/metrics.js")).metricsCommand(opts, io)));

  program
    .command("monitor")
    .description("Live view of the store: queue depth by status, running jobs, throughput, recent failures. q or Ctrl-C quits.")
    .addOption(storeOption())
    .option("--interval <ms>", "refresh period (default 500)", int(50, 60_000))
    .option("--rows <n>", "rows of running jobs and failures (default 10)", int(1, 1000))
    .option("--once", "print one frame and exit (for scripts and non-TTY output)")
    .action((opts: Record<string, unknown>) => run(async () => (await import("./commands/monitor.js")).monitorCommand(opts, io)));

  program
    .command("dashboard")
    .description("Serve the web dashboard (jobs, details, charts, retry and cancel) and /metrics over the store until Ctrl-C.")
    .addOption(storeOption())
    .option("--port <n>", "port (default 7300; 0: any free one)", int(0, 65_535))
    .option("--host <address>", "address to bind (default 127.0.0.1; any other protects reads with the token too)")
    .option("--read-only", "refuse every action")
    .option("--token-file <path>", "file holding the access token (default: one is generated into a new file, whose path is printed)")
    .action((opts: Record<string, unknown>) => run(async () => (await import("./commands/dashboard.js")).dashboardCommand(opts, io)));

  return program;
}

/**
 * Runs the `pyrexis` command line with `argv` (without the `node` and script entries) and
 * returns the exit code: 0 ok, 1 runtime error, 2 usage error. Never calls `process.exit`;
 * errors are printed to `io.stderr` as one line, `pyrexis: error: …`.
 *
 * @example
 * ```ts
 * const code = await runCli(["list", "--store", "jobs.db", "--json"]);
 * ```
 */
export async function runCli(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  const result = { code: EXIT_OK };
  const program = buildProgram(io, result);
  try {
    await program.parseAsync([...argv], { from: "user" });
    return result.code;
  } catch (error) {
    if (error instanceof CommanderError && error.exitCode === 0) return EXIT_OK; // --help, --version
    io.stderr.write(`pyrexis: error: ${oneLine(error)}${hintFor(error)}\n`);
    return exitCodeOf(error);
  }
}

// Flags other tools use for what `--store` is here; too far from it for commander's own suggestion.
const STORE_ALIASES: ReadonlySet<string> = new Set(["--db", "--database", "--db-path", "--sqlite", "--path"]);

/** " (Did you mean --store?)" for an unknown flag that names the database another way; else "". */
function hintFor(error: unknown): string {
  if (!(error instanceof CommanderError) || error.code !== "commander.unknownOption" || /Did you mean/i.test(error.message)) return "";
  const flag = /unknown option '([^'=]+)/.exec(error.message)?.[1];
  return flag !== undefined && STORE_ALIASES.has(flag) ? " (Did you mean --store?)" : "";
}
