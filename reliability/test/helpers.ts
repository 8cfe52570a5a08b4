// Shared harness of the reliability scenarios: seeds, engine child processes, the run log, and
// the store audit. Temp dirs, condition waits and the seeded generator are @pyrexis/test-utils'.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";
import type { Job, Result } from "@pyrexis/models";
import type { JobStore } from "@pyrexis/storage";
import { PostgresJobStore } from "@pyrexis/storage-postgres";
import { SqliteJobStore } from "@pyrexis/storage-sqlite";

/** Every job of the store, read page by page. */
export async function allJobs(store: JobStore): Promise<Job[]> {
  const out: Job[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listJobs({ limit: 1000, cursor });
    out.push(...page.jobs);
    cursor = page.cursor;
  } while (cursor !== undefined);
  return out;
}

/** A store the scenarios audit: either kind reports the rows it could not read. */
export type AuditedStore = JobStore & { readonly corruptRecords: readonly unknown[] };

/** Opens the store at `target`: a `postgres://…?schema=` URL, or a SQLite file path. */
export async function openStoreAt(target: string): Promise<AuditedStore> {
  if (target.startsWith("postgres://") || target.startsWith("postgresql://")) {
    return PostgresJobStore.open({ connectionString: target }, { listen: false });
  }
  return SqliteJobStore.open({ path: target });
}

/** True in `pnpm test:chaos` (long, on-demand runs). */
export const CHAOS: boolean = process.env.PYREXIS_CHAOS === "1";

/** The scenario's seed: `PYREXIS_SEED` when given (to replay a run), else the default. Printed. */
export function seedFor(scenario: string, fallback: number): number {
  const raw = process.env.PYREXIS_SEED;
  const seed = raw === undefined || raw === "" ? fallback : Number(raw) >>> 0;
  console.log(`[reliability] ${scenario}: seed ${seed} (replay: PYREXIS_SEED=${seed} pnpm --filter @pyrexis/reliability test)`);
  return seed;
}

/** Path of a fixture file. */
export function fixture(name: string): string {
  return fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
}

/** True while a process with this pid exists (signal 0 probes without sending anything). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== "ESRCH";
  }
}

/** One line of the run log the fixture handlers write. */
export interface RunEntry {
  kind: string;
  jobId: string;
  attempt: number;
  at: number;
  pid: number;
  threadId: number;
  /** The parent of `pid` (a process-mode run's engine). */
  ppid: number;
}

/** Reads the run log (absent file: no runs). */
export function readRunLog(path: string): RunEntry[] {
  if (!existsSync(path)) return [];
  const out: RunEntry[] = [];
  for (const line of readFileSync(path, "utf8").split("\n")) {
    if (!line) continue;
    const [kind, jobId, attempt, at, pid, threadId, ppid] = line.split(" ");
    out.push({
      kind: kind!,
      jobId: jobId!,
      attempt: Number(attempt),
      at: Number(at),
      pid: Number(pid),
      threadId: Number(threadId),
      ppid: Number(ppid ?? 0),
    });
  }
  return out;
}

/** Config of fixtures/engine-proc.mjs. */
export interface EngineProcConfig {
  db: string;
  log: string;
  seed: number;
  chunks: number;
  chunkSize: number;
  exit: "never" | "drain";
  kind: "mixed" | "shutdown";
  graceMs?: number;
  asyncConcurrency?: number;
  /** Caps every `work` job's duration (a drain-only restart). */
  workMaxMs?: number;
}

/** A running engine child process. */
export interface EngineProc {
  child: ChildProcess;
  /** stdout lines so far ("ready", "term", "force", "stopped"). */
  lines: string[];
  stderr: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const live = new Set<ChildProcess>();

/** Starts fixtures/engine-proc.mjs. */
export function startEngineProc(cfg: EngineProcConfig): EngineProc {
  return startFixtureProc("engine-proc.mjs", cfg);
}

/** Starts a fixture script with a JSON config argument, its stdout lines and stderr collected. */
export function startFixtureProc(name: string, cfg: object): EngineProc {
  const child = spawn(process.execPath, [fixture(name), JSON.stringify(cfg)], { stdio: ["ignore", "pipe", "pipe"] });
  live.add(child);
  const lines: string[] = [];
  const stderr: string[] = [];
  child.stdout.setEncoding("utf8").on("data", (d: string) => lines.push(...d.split("\n").filter(Boolean)));
  child.stderr.setEncoding("utf8").on("data", (d: string) => stderr.push(d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on("exit", (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
    });
  });
  return { child, lines, stderr, exited };
}

/** SIGKILLs every engine child still running (afterEach safety net). */
export function killLiveChildren(): void {
  for (const c of live) c.kill("SIGKILL");
}

/** What the audit of a finished store found. */
export interface AuditSummary {
  jobs: number;
  completed: number;
  failed: number;
  cancelled: number;
  results: number;
  runs: number;
  /** Jobs whose log shows a start after their result's endedAt (must be 0). */
  lateRuns: number;
  byError: Record<string, number>;
}

/**
 * Checks the guarantees on a store every job of which should be finished: each of `expectedIds`
 * exists (nothing lost) and nothing else does; each is in exactly one terminal state with
 * exactly one result that agrees with it; attempts ≤ maxAttempts; no logged start after the
 * result's endedAt (no run after the terminal state); completed jobs ran at least once.
 */
export async function auditFinishedStore(
  dbPath: string,
  expectedIds: ReadonlySet<string>,
  runs: readonly RunEntry[],
  options: { allowCancelled?: boolean } = {},
): Promise<AuditSummary> {
  const starts = new Map<string, RunEntry[]>();
  for (const e of runs) {
    if (e.kind !== "start") continue;
    const list = starts.get(e.jobId);
    if (list) list.push(e);
    else starts.set(e.jobId, [e]);
  }
  const store = await openStoreAt(dbPath);
  try {
    const counts = await store.countByStatus();
    expect(counts.pending + counts.running + counts.retrying + counts.created, "no job left unfinished").toBe(0);
    const summary: AuditSummary = { jobs: 0, completed: 0, failed: 0, cancelled: 0, results: 0, runs: 0, lateRuns: 0, byError: {} };
    const seen = new Set<string>();
    for (const job of await allJobs(store)) {
      seen.add(job.id);
      checkFinishedJob(job, await store.getResult(job.id), starts.get(job.id) ?? [], summary, options.allowCancelled === true);
    }
    expect(store.corruptRecords, "no corrupt rows").toEqual([]);
    const missing = [...expectedIds].filter((id) => !seen.has(id));
    expect(missing, "jobs lost").toEqual([]);
    expect(seen.size, "no unexpected jobs").toBe(expectedIds.size);
    summary.jobs = seen.size;
    return summary;
  } finally {
    await store.close();
  }
}

function checkFinishedJob(
  job: Job,
  result: Result | undefined,
  starts: readonly RunEntry[],
  s: AuditSummary,
  allowCancelled: boolean,
): void {
  expect(allowCancelled ? ["completed", "failed", "cancelled"] : ["completed", "failed"], `job ${job.id} terminal`).toContain(job.status);
  expect(result, `job ${job.id} has a result`).toBeDefined();
  const r = result!;
  s.results++;
  expect(r.status, `job ${job.id} result agrees`).toBe(job.status);
  expect(r.attempts, `job ${job.id} result attempts`).toBe(job.attempts);
  expect(job.attempts, `job ${job.id} attempts <= maxAttempts`).toBeLessThanOrEqual(job.maxAttempts);
  s.runs += starts.length;
  for (const e of starts) {
    expect(e.attempt, `job ${job.id} logged attempt within limit`).toBeLessThanOrEqual(job.maxAttempts);
    if (e.at > r.endedAt) s.lateRuns++;
  }
  if (job.status === "completed") {
    s.completed++;
    expect(starts.length, `completed job ${job.id} ran`).toBeGreaterThan(0);
    expect(r.output, `job ${job.id} output`).toMatchObject({ i: (job.payload as { i: number }).i });
  } else if (job.status === "cancelled") {
    s.cancelled++;
  } else {
    s.failed++;
    const code = r.error?.code ?? r.error?.name ?? "?";
    s.byError[code] = (s.byError[code] ?? 0) + 1;
  }
}

/** Writes a scenario's figures to `$PYREXIS_CHAOS_REPORT/<name>.json` when that is set. */
export function recordFigures(name: string, figures: Record<string, unknown>): void {
  console.log(`[reliability] ${name}: ${JSON.stringify(figures)}`);
  const dir = process.env.PYREXIS_CHAOS_REPORT;
  if (!dir) return;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}.json`), JSON.stringify({ ...figures, at: new Date().toISOString() }, null, 2));
}
