// Watches a pool's workers from the main side: which exist, how each exited (for crash messages),
// and retires one on request (a handler that ignored its abort, a worker past its recycle limits
// or whose handlers module failed to load). Both runtimes share it.
import type { Tinypool, TinypoolWorker } from "tinypool";
import { writeLog } from "./invoke.js";
import type { PoolSettings } from "./pool-options.js";
import { failWorker, onWorkerExit, workerIdOf, workersOf } from "./tinypool-internals.js";

/**
 * The error a retired worker is failed with. `resubmit`: the tasks still on it never started a
 * handler, so they run elsewhere; otherwise they fail with the worker.
 */
export class RetireSignal extends Error {
  readonly resubmit: boolean;
  constructor(message: string, resubmit: boolean) {
    super(message);
    this.name = "RetireSignal";
    this.resubmit = resubmit;
  }
}

/** How a worker exited. `signal` is `undefined` for threads. */
export interface WorkerExit {
  readonly code: number | null;
  readonly signal: string | null | undefined;
}

/** Exits remembered for crash messages; older ones are forgotten. */
const EXITS_KEPT = 64;

/** The workers of one tinypool pool, hooked as they appear. */
export class WorkerWatch {
  readonly #pool: Tinypool;
  readonly #settings: PoolSettings;
  readonly #onExit: ((worker: TinypoolWorker, code: number | null) => void) | undefined;
  readonly #seen = new WeakSet<TinypoolWorker>();
  readonly #known = new Set<number>();
  readonly #exits = new Map<number, WorkerExit>();
  /** Hooked workers that have not exited, oldest first. */
  readonly #workers: TinypoolWorker[] = [];

  /**
   * @param onExit - runtime-specific work when a worker exits, after the watch noted it.
   */
  constructor(pool: Tinypool, settings: PoolSettings, onExit?: (worker: TinypoolWorker, code: number | null) => void) {
    this.#pool = pool;
    this.#settings = settings;
    this.#onExit = onExit;
    // Errors of idle workers surface on the pool; without a listener EventEmitter would throw them.
    pool.on("error", (error: unknown) => {
      if (!(error instanceof RetireSignal))
        writeLog(settings.logger, "warn", { executor: settings.label }, { err: error }, "worker failed while idle");
    });
    this.scan();
  }

  /** Live workers hooked so far, oldest first. */
  get workers(): readonly TinypoolWorker[] {
    return this.#workers;
  }

  /** Hooks `exit` on workers not seen yet. */
  scan(): void {
    for (const worker of workersOf(this.#pool)) {
      if (this.#seen.has(worker)) continue;
      this.#seen.add(worker);
      const id = workerIdOf(worker);
      this.#known.add(id);
      this.#workers.push(worker);
      onWorkerExit(worker, (code, signal) => {
        this.#known.delete(id);
        const at = this.#workers.indexOf(worker);
        if (at >= 0) this.#workers.splice(at, 1);
        this.#exits.set(id, { code, signal });
        if (this.#exits.size > EXITS_KEPT) this.#exits.delete(this.#exits.keys().next().value!);
        this.#onExit?.(worker, code);
      });
    }
  }

  /** {@link scan} unless every worker the pool may have is hooked already (the per-task case). */
  scanIfNew(): void {
    if (this.#workers.length < this.#settings.maxWorkers) this.scan();
  }

  /** True for the id of a live worker the watch hooked. */
  knows(id: number): boolean {
    return this.#known.has(id);
  }

  /** How worker `id` exited, if it did lately. */
  exitOf(id: number): WorkerExit | undefined {
    return this.#exits.get(id);
  }

  /** Retires worker `id`, whose tasks (if any) never started a handler: they run on another worker. */
  recycle(id: number, reason: string): void {
    this.#retire(id, reason, true);
  }

  /** Kills worker `id`: the tasks that started on it fail with `WorkerCrashedError`. */
  kill(id: number, reason: string): void {
    this.#retire(id, reason, false);
  }

  #retire(id: number, reason: string, resubmit: boolean): void {
    const worker = workersOf(this.#pool).find((w) => workerIdOf(w) === id);
    if (!worker) return;
    writeLog(this.#settings.logger, "info", { executor: this.#settings.label, worker: id }, {}, `retiring worker: ${reason}`);
    failWorker(worker, new RetireSignal(reason, resubmit));
    this.scan();
  }
}
