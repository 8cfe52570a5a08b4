// Waiting on a condition that cannot be awaited directly (another process, a file, a counter
// bumped by a handler): poll it, bounded, and say what was awaited when it never comes.
import { setTimeout as sleep } from "node:timers/promises";

/** How long {@link waitFor} waits and how often it checks. */
export interface WaitForOptions {
  /** Gives up after this many milliseconds (default 20,000): a bound on a hang, not an assertion on speed. */
  readonly timeoutMs?: number;
  /** Pause between checks in milliseconds (default 10). Raise it when a check is costly (spawns a process). */
  readonly intervalMs?: number;
}

/** Thrown by {@link waitFor} when the condition did not hold in time. */
export class WaitTimeoutError extends Error {
  override readonly name = "WaitTimeoutError";
  /** What was awaited, as passed to {@link waitFor}. */
  readonly what: string;
  constructor(what: string, timeoutMs: number) {
    super(`timed out after ${timeoutMs} ms waiting for ${what}`);
    this.what = what;
  }
}

function checkMs(name: string, value: number, min: number): number {
  if (!Number.isFinite(value) || value < min) throw new TypeError(`waitFor: ${name} must be a finite number >= ${min}, got ${value}`);
  return value;
}

/**
 * Calls `check` until it returns a truthy value and resolves with that value; rejects with a
 * {@link WaitTimeoutError} naming `what` after `timeoutMs`. A `check` that throws ends the
 * wait with its error. Uses real timers: not for code under `vi.useFakeTimers()` (advance the
 * fake clock instead).
 *
 * @param what - what is awaited, completing "timed out waiting for …".
 * @example
 * ```ts
 * await waitFor("the engine to be ready", () => proc.lines.includes("ready"));
 * const job = await waitFor("job-1 to run", async () => {
 *   const j = await store.getJob("job-1");
 *   return j?.status === "running" ? j : undefined;
 * });
 * ```
 */
export async function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  options: WaitForOptions = {},
): Promise<NonNullable<Awaited<T>>> {
  if (typeof what !== "string" || what === "") throw new TypeError("waitFor: say what is awaited (a non-empty string)");
  if (typeof check !== "function") throw new TypeError("waitFor: check must be a function");
  const timeoutMs = checkMs("timeoutMs", options.timeoutMs ?? 20_000, 0);
  const intervalMs = checkMs("intervalMs", options.intervalMs ?? 10, 1);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() >= deadline) throw new WaitTimeoutError(what, timeoutMs);
    await sleep(intervalMs);
  }
}
