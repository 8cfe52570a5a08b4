import type { Clock, ClockTimer } from "@pyrexis/models";
import type { JobStore } from "@pyrexis/storage";
import type { ResultWaiters } from "./result-waiters.js";

/** What {@link RemoteResultChecker} reads and tells. */
export interface RemoteResultsHost {
  readonly store: Pick<JobStore, "getResult">;
  readonly clock: Clock;
  readonly waiters: ResultWaiters;
  /** True when this engine holds the job: its own run settles the waiters, no read is needed. */
  holds(jobId: string): boolean;
  /** A check ended with nobody waiting any more. */
  nobodyWaits(): void;
}

/**
 * Asks the store for the results of jobs waited for here (`waitForResult`) but held by no one
 * here: another engine may have finished them. Checks are spaced by four times the last one's
 * duration, at least 10 ms, so many waiters and many store changes do not turn into a storm of
 * reads; a change seen during a check, or too soon after one, is checked later, never dropped.
 */
export class RemoteResultChecker {
  readonly #host: RemoteResultsHost;
  #at = Number.NEGATIVE_INFINITY;
  #tookMs = 0;
  #running = false;
  #again = false;
  #timer: ClockTimer | undefined;

  constructor(host: RemoteResultsHost) {
    this.#host = host;
  }

  /** Checks now, or once the spacing has passed (`force`: now, whatever the spacing). */
  check(force = false): void {
    const { clock, waiters, store } = this.#host;
    if (waiters.size === 0) return;
    if (this.#running) {
      this.#again = true; // a change seen while checking: check once more after this one
      return;
    }
    const now = clock.now();
    const wait = Math.max(10, 4 * this.#tookMs) - (now - this.#at);
    if (!force && wait > 0) {
      // Too soon after the last check: check once the spacing has passed, not never.
      if (this.#timer === undefined) {
        this.#timer = clock.setTimeout(() => {
          this.#timer = undefined;
          this.check(true);
        }, wait);
        this.#timer.unref();
      }
      return;
    }
    const ids = waiters.ids().filter((id) => !this.#host.holds(id));
    if (ids.length === 0) return;
    this.#running = true;
    this.#at = now;
    const t0 = performance.now();
    void Promise.all(
      ids.map((id) =>
        store.getResult(id).then(
          (result) => {
            if (result) waiters.settle(id, result, undefined);
          },
          () => {},
        ),
      ),
    ).finally(() => {
      this.#running = false;
      this.#tookMs = performance.now() - t0;
      if (waiters.size === 0) this.#host.nobodyWaits();
      else if (this.#again) {
        this.#again = false;
        this.check();
      }
    });
  }

  /** Cancels a check that waits for its spacing (shutdown). */
  stop(): void {
    if (this.#timer !== undefined) this.#host.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
