import { JobNotFoundError, type Job, type Result } from "@pyrexis/models";
import { formatDuration, formatTime } from "../format.js";
import type { CliIo } from "../io.js";
import { openExistingStore, resolveStorePath, withStore } from "../store.js";

/** Options of `pyrexis status`. */
export interface StatusOptions {
  store?: string | undefined;
  json?: boolean | undefined;
}

/** `pyrexis status <id>`: the job record and, once it finished, its result. */
export async function statusCommand(id: string, options: StatusOptions, io: CliIo): Promise<number> {
  const path = resolveStorePath(options.store, io);
  const { job, result } = await withStore(openExistingStore(path), async (store) => {
    const job = await store.getJob(id);
    if (!job) throw new JobNotFoundError(id);
    return { job, result: await store.getResult(id) };
  });
  if (options.json) io.stdout.write(`${JSON.stringify({ job, result: result ?? null })}\n`);
  else io.stdout.write(describe(job, result));
  return 0;
}

function describe(job: Job, result: Result | undefined): string {
  const lines: [string, string][] = [
    ["id", job.id],
    ["status", job.status],
    ["handler", job.handler],
    ["mode", job.mode],
    ["priority", String(job.priority)],
    ["attempts", `${job.attempts} of ${job.maxAttempts}`],
    ["created", formatTime(job.createdAt)],
    ["updated", formatTime(job.updatedAt)],
  ];
  if (!result && job.runAt > job.updatedAt) lines.push(["runs at", formatTime(job.runAt)]);
  if (job.timeoutMs !== undefined) lines.push(["timeout", formatDuration(job.timeoutMs)]);
  lines.push(["payload", JSON.stringify(job.payload)]);
  if (job.lastError && !result) lines.push(["last error", `${job.lastError.code ?? job.lastError.name}: ${job.lastError.message}`]);
  if (result) {
    lines.push(["result", result.status]);
    lines.push(["duration", formatDuration(result.durationMs)]);
    if (result.output !== undefined) lines.push(["output", JSON.stringify(result.output)]);
    if (result.error) lines.push(["error", `${result.error.code ?? result.error.name}: ${result.error.message}`]);
  }
  const width = Math.max(...lines.map(([k]) => k.length));
  return lines.map(([k, v]) => `${k.padEnd(width)}  ${v}\n`).join("");
}
