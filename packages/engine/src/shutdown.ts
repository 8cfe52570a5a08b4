/** A step of shutdown, e.g. "close the store". */
export type ShutdownCallback = () => unknown;

/** Options of {@link ShutdownCoordinator.installSignalHandlers}. */
export interface SignalHandlerOptions {
  /** Signals to handle. Default `["SIGINT", "SIGTERM"]`. */
  signals?: readonly NodeJS.Signals[];
  /** Called on the first signal to start a graceful shutdown. */
  onSignal: (signal: NodeJS.Signals) => unknown;
  /** Called on a second signal while shutting down: stop waiting, force. */
  onForce?: (signal: NodeJS.Signals) => unknown;
}

/**
 * Runs registered shutdown callbacks once, in reverse order of registration (last acquired,
 * first released). A failing callback does not stop the others; their errors are collected.
 *
 * @example
 * ```ts
 * const shutdown = new ShutdownCoordinator();
 * shutdown.register("store", () => store.close());
 * shutdown.register("executors", () => executors.close()); // runs first
 * await shutdown.run(); // idempotent: a second call returns the same promise
 * ```
 */
export class ShutdownCoordinator {
  readonly #callbacks: { name: string; fn: ShutdownCallback }[] = [];
  #running: Promise<ShutdownReport> | undefined;
  #removeSignalHandlers: (() => void) | undefined;

  /** True once {@link run} was called. */
  get started(): boolean {
    return this.#running !== undefined;
  }

  /** Adds a callback; callbacks run in reverse order of registration. */
  register(name: string, fn: ShutdownCallback): void {
    if (this.#running) throw new TypeError(`cannot register shutdown callback "${name}": shutdown already started`);
    this.#callbacks.push({ name, fn });
  }

  /** Runs every callback (once, however often called); resolves with the errors, if any. */
  run(): Promise<ShutdownReport> {
    this.#running ??= this.#runAll();
    return this.#running;
  }

  async #runAll(): Promise<ShutdownReport> {
    const errors: { name: string; error: unknown }[] = [];
    for (const { name, fn } of [...this.#callbacks].reverse()) {
      try {
        await fn();
      } catch (error) {
        errors.push({ name, error });
      }
    }
    this.#removeSignalHandlers?.();
    return { errors };
  }

  /**
   * Wires process signals: the first signal calls `onSignal`, a second one calls `onForce`.
   * Returns a function that removes the handlers (also removed when shutdown completes).
   */
  installSignalHandlers(options: SignalHandlerOptions): () => void {
    const signals = options.signals ?? (["SIGINT", "SIGTERM"] as const);
    let count = 0;
    const handler = (signal: NodeJS.Signals): void => {
      count++;
      if (count === 1) void Promise.resolve(options.onSignal(signal)).catch(() => {});
      else void Promise.resolve(options.onForce?.(signal)).catch(() => {});
    };
    for (const s of signals) process.on(s, handler);
    const remove = (): void => {
      for (const s of signals) process.off(s, handler);
    };
    // Installing twice keeps both removable when shutdown completes.
    const previous = this.#removeSignalHandlers;
    this.#removeSignalHandlers = previous
      ? (): void => {
          previous();
          remove();
        }
      : remove;
    return remove;
  }
}

/** What {@link ShutdownCoordinator.run} reports: the callbacks that failed. */
export interface ShutdownReport {
  errors: { name: string; error: unknown }[];
}
