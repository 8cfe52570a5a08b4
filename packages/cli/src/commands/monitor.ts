import { JOB_STATUSES, type Job, type JobStatus } from "@pyrexis/models";
import type { JobStore } from "@pyrexis/storage";
import { formatDuration, formatTable, formatTime } from "../format.js";
import type { CliIo } from "../io.js";
import { openExistingStore, resolveStorePath } from "../store.js";

/** Options of `pyrexis monitor`. */
export interface MonitorOptions {
  store?: string | undefined;
  interval?: number | undefined;
  once?: boolean | undefined;
  rows?: number | undefined;
}

/** What one frame shows, read from the store. */
export interface MonitorSnapshot {
  readonly at: number;
  readonly counts: Record<JobStatus, number>;
  readonly running: readonly Job[];
  readonly failures: readonly Job[];
  /** Finished (completed + failed + cancelled) jobs per second since the previous frame. */
  readonly throughput: number | undefined;
}

const finished = (c: Record<JobStatus, number>): number => c.completed + c.failed + c.cancelled;

/** Reads one snapshot; `previous` gives the throughput delta. */
export async function readSnapshot(
  store: Pick<JobStore, "countByStatus" | "listJobs">,
  rows: number,
  previous?: MonitorSnapshot,
): Promise<MonitorSnapshot> {
  const at = Date.now();
  const counts = await store.countByStatus();
  const running = (await store.listJobs({ status: "running", limit: rows, order: "desc" })).jobs;
  const failures = (await store.listJobs({ status: "failed", limit: rows, order: "desc" })).jobs;
  const throughput =
    previous && at > previous.at ? ((finished(counts) - finished(previous.counts)) * 1000) / (at - previous.at) : undefined;
  return { at, counts, running, failures, throughput };
}

/** Renders a snapshot as plain text (no escape codes). */
export function renderFrame(s: MonitorSnapshot, storePath: string, width = 100): string {
  const out: string[] = [];
  out.push(`pyrexis monitor  ${storePath}  ${formatTime(s.at)}`);
  out.push("");
  out.push("queue depth by status:");
  out.push(JOB_STATUSES.map((st) => `${st} ${s.counts[st]}`).join("  "));
  const tp = s.throughput === undefined ? "- (needs two frames)" : `${s.throughput.toFixed(1)} jobs/s`;
  out.push(`throughput: ${tp}`);
  out.push("");
  out.push(`running (${s.counts.running}, newest first):`);
  if (s.running.length === 0) out.push("  (none)");
  else {
    const rows = s.running.map((j) => [j.id, j.handler, j.mode, `${j.attempts}/${j.maxAttempts}`, formatDuration(s.at - j.updatedAt)]);
    out.push(indent(formatTable(["ID", "HANDLER", "MODE", "ATTEMPT", "RUNNING FOR"], rows, { maxCellWidth: 40 })));
  }
  out.push("");
  out.push(`recent failures (${s.counts.failed}):`);
  if (s.failures.length === 0) out.push("  (none)");
  else {
    const msgWidth = Math.max(20, width - 60);
    const rows = s.failures.map((j) => [j.id, j.handler, j.lastError?.message ?? "-"]);
    out.push(indent(formatTable(["ID", "HANDLER", "ERROR"], rows, { maxCellWidth: msgWidth })));
  }
  return `${out.join("\n")}\n`;
}

function indent(table: string): string {
  return table
    .trimEnd()
    .split("\n")
    .map((l) => `  ${l}`)
    .join("\n");
}

// Alternate screen, hidden cursor; restored on exit whatever happens.
const ENTER = "\x1b[?1049h\x1b[?25l";
const LEAVE = "\x1b[?25h\x1b[?1049l";
const HOME_CLEAR = "\x1b[H\x1b[2J";

/**
 * `pyrexis monitor`: a live view of the store, re-read every `--interval` ms (default 500).
 * On a TTY it redraws in place and quits on `q` or Ctrl-C, restoring the terminal. Not on a TTY
 * it prints plain frames; `--once` prints one frame and exits. It also stops when the reader of
 * stdout goes away (a closed pipe).
 */
export async function monitorCommand(options: MonitorOptions, io: CliIo): Promise<number> {
  const path = resolveStorePath(options.store, io);
  const rows = options.rows ?? 10;
  const interval = options.interval ?? 500;
  const store = await openExistingStore(path);
  try {
    if (options.once) {
      io.stdout.write(renderFrame(await readSnapshot(store, rows), path, io.stdout.columns));
      return 0;
    }
    await loop(store, path, rows, interval, io);
    return 0;
  } finally {
    await store.close();
  }
}

async function loop(store: JobStore, path: string, rows: number, interval: number, io: CliIo): Promise<void> {
  const tty = io.stdout.isTTY === true;
  const stdin = io.stdin;
  let stop!: () => void;
  const stopped = new Promise<void>((r) => (stop = r));
  const onKey = (data: Buffer | string): void => {
    const s = data.toString();
    if (s === "q" || s === "Q" || s === "\x03") stop();
  };
  const onSignal = (): void => stop();
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  // Nobody reads the frames any more (`pyrexis monitor | head`): stop as on q.
  io.outputClosed?.addEventListener("abort", onSignal);
  if (io.outputClosed?.aborted) stop();
  const raw = tty && stdin.isTTY === true && typeof stdin.setRawMode === "function";
  if (raw) {
    stdin.setRawMode?.(true);
    stdin.on("data", onKey);
    stdin.resume();
  }
  if (tty) io.stdout.write(ENTER);
  let previous: MonitorSnapshot | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    let done = false;
    void stopped.then(() => (done = true));
    while (!done) {
      previous = await readSnapshot(store, rows, previous);
      const frame = renderFrame(previous, path, io.stdout.columns);
      io.stdout.write(tty ? `${HOME_CLEAR}${frame}${raw ? "\npress q to quit\n" : ""}` : `${frame}\n`);
      await Promise.race([stopped, new Promise<void>((r) => (timer = setTimeout(r, interval)))]);
      clearTimeout(timer);
    }
  } finally {
    clearTimeout(timer);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    io.outputClosed?.removeEventListener("abort", onSignal);
    if (raw) {
      stdin.off("data", onKey);
      stdin.setRawMode?.(false);
      stdin.pause();
    }
    if (tty) io.stdout.write(LEAVE);
  }
}
