import type { ExecutionTask, Executor } from "../dist/index.js";

export const HANDLERS: URL = new URL("./fixtures/handlers.mjs", import.meta.url);
export const NAMED: URL = new URL("./fixtures/named.mjs", import.meta.url);
export const BROKEN: URL = new URL("./fixtures/broken.mjs", import.meta.url);
export const NOT_HANDLERS: URL = new URL("./fixtures/not-handlers.mjs", import.meta.url);

let seq = 0;

/** Runs one task and collects its progress. */
export function runTask(
  executor: Executor,
  handler: string,
  payload: unknown = null,
  options: { signal?: AbortSignal; progress?: unknown[]; jobId?: string } = {},
): Promise<unknown> {
  const task: ExecutionTask = { jobId: options.jobId ?? `job-${++seq}`, handler, payload, attempt: 1 };
  const progress = options.progress ?? [];
  return executor.run(task, { signal: options.signal ?? new AbortController().signal, onProgress: (v) => progress.push(v) });
}

/** Resolves with what `promise` rejected with; fails when it resolves. */
export async function rejectionOf(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    const value = await promise;
    throw new TypeError(`expected a rejection, got ${JSON.stringify(value)}`);
  } catch (error) {
    return error as Error & { code?: string };
  }
}

/** True while a process with this pid exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    if ((error as { code?: string }).code === "ESRCH") return false;
    throw error;
  }
}
