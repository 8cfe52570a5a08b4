import { afterEach } from "vitest";
import { ProcessExecutor, ThreadExecutor, type ExecutionTask, type Executor, type PoolExecutorOptions } from "../dist/index.js";

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

export type PoolMode = "thread" | "process";

/**
 * A factory of pool executors on the fixture handlers with `defaults`; every executor it made is
 * terminated after each test of the calling file.
 */
export function poolExecutors(
  defaults: Omit<PoolExecutorOptions, "handlersModule">,
): (mode: PoolMode, options?: Omit<PoolExecutorOptions, "handlersModule">) => ThreadExecutor | ProcessExecutor {
  const created: (ThreadExecutor | ProcessExecutor)[] = [];
  afterEach(async () => {
    await Promise.all(created.splice(0).map((e) => e.terminate()));
  });
  return (mode, options = {}) => {
    const all = { handlersModule: HANDLERS, ...defaults, ...options };
    const executor = mode === "thread" ? new ThreadExecutor(all) : new ProcessExecutor(all);
    created.push(executor);
    return executor;
  };
}
