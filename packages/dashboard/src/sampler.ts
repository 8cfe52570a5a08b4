// Queue depth and throughput over time: the store keeps only current counts, so the dashboard
// samples `countByStatus` on an interval into a bounded ring and derives throughput (jobs
// finished per second) from the change of the finished counts between samples.
import type { JobStatus } from "@pyrexis/models";
import type { JobStore } from "@pyrexis/storage";

/** One sample of the store's counts. */
export interface CountSample {
  /** Epoch ms the counts were read. */
  readonly at: number;
  readonly counts: Readonly<Record<JobStatus, number>>;
  /** Jobs finished (completed + failed + cancelled) per second since the previous sample; 0 for the first. */
  readonly throughput: number;
}

function finished(c: Readonly<Record<JobStatus, number>>): number {
  return c.completed + c.failed + c.cancelled;
}

/** Samples a store's counts every `intervalMs` into a ring of `capacity` samples. */
export class CountSampler {
  readonly #store: JobStore;
  readonly #intervalMs: number;
  readonly #capacity: number;
  readonly #now: () => number;
  readonly #onError: (error: unknown) => void;
  readonly #samples: CountSample[] = [];
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;

  constructor(store: JobStore, options: { intervalMs: number; capacity: number; now: () => number; onError: (error: unknown) => void }) {
    this.#store = store;
    this.#intervalMs = options.intervalMs;
    this.#capacity = options.capacity;
    this.#now = options.now;
    this.#onError = options.onError;
  }

  /** Milliseconds between samples. */
  get intervalMs(): number {
    return this.#intervalMs;
  }

  /** The samples, oldest first. */
  samples(): readonly CountSample[] {
    return [...this.#samples];
  }

  /** Takes one sample now (one at a time: a call while one runs waits for it). */
  sample(): Promise<void> {
    this.#running ??= this.#take().finally(() => (this.#running = undefined));
    return this.#running;
  }

  async #take(): Promise<void> {
    try {
      const counts = await this.#store.countByStatus();
      const at = this.#now();
      const previous = this.#samples[this.#samples.length - 1];
      const seconds = previous === undefined ? 0 : (at - previous.at) / 1000;
      const throughput = previous === undefined || seconds <= 0 ? 0 : Math.max(0, (finished(counts) - finished(previous.counts)) / seconds);
      this.#samples.push({ at, counts: Object.freeze({ ...counts }), throughput });
      if (this.#samples.length > this.#capacity) this.#samples.shift();
    } catch (e) {
      this.#onError(e);
    }
  }

  /** Starts sampling (a first sample at once). */
  start(): void {
    if (this.#timer !== undefined) return;
    void this.sample();
    this.#timer = setInterval(() => void this.sample(), this.#intervalMs);
    this.#timer.unref();
  }

  /** Stops sampling and waits for a sample in progress. */
  async stop(): Promise<void> {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }
}
