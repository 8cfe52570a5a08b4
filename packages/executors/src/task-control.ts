// The one type executors' internals steer a run through. A `start` caller passes a RunControl,
// which already is one; `run` wraps its options once, here, so no code further in branches on
// "RunControl or AbortSignal".
import type { ExecutionOptions } from "./executor.js";
import { RunControl, type AbortListenerObject } from "./run-control.js";

/**
 * How one run is steered and told its outcome: the surface of {@link RunControl} that executors
 * use. `listen` never fires for an abort that happened before it: read `aborted` first.
 */
export interface TaskControl {
  readonly aborted: boolean;
  readonly reason: unknown;
  listen(listener: AbortListenerObject): void;
  unlisten(listener: AbortListenerObject): void;
  onProgress(value: unknown): void;
  onCharge(units: number, key: string | undefined): void;
  /** The outcome, exactly once. */
  settle(ok: boolean, value: unknown): void;
  /**
   * True when `settle` only settles `run`'s promise, so it may be called at once, even inside the
   * caller's call (a promise never calls back synchronously); otherwise an executor calls it a
   * microtask later (a `RunControl` must not hear of its outcome inside `start` or `abort`).
   */
  readonly settlesPromise?: boolean;
}

type Resolve = (value: unknown) => void;
type Reject = (error: unknown) => void;

/** `run` with plain options: the caller's signal steers, the outcome goes to `run`'s promise. */
class SignalRun implements TaskControl {
  readonly #options: ExecutionOptions;
  readonly #resolve: Resolve;
  readonly #reject: Reject;

  constructor(options: ExecutionOptions, resolve: Resolve, reject: Reject) {
    this.#options = options;
    this.#resolve = resolve;
    this.#reject = reject;
  }

  get aborted(): boolean {
    return this.#options.signal.aborted;
  }

  get reason(): unknown {
    return this.#options.signal.reason as unknown;
  }

  listen(listener: AbortListenerObject): void {
    // AbortSignal calls `handleEvent(event)`; listeners read the reason from the control.
    this.#options.signal.addEventListener("abort", listener);
  }

  unlisten(listener: AbortListenerObject): void {
    this.#options.signal.removeEventListener("abort", listener);
  }

  onProgress(value: unknown): void {
    this.#options.onProgress(value);
  }

  onCharge(units: number, key: string | undefined): void {
    this.#options.onCharge?.(units, key);
  }

  get settlesPromise(): boolean {
    return true;
  }

  settle(ok: boolean, value: unknown): void {
    if (ok) this.#resolve(value);
    else this.#reject(value);
  }
}

/** `run` with a RunControl: it steers (no signal made), the outcome goes to `run`'s promise, not to its `settle`. */
class ControlRun implements TaskControl {
  readonly #control: RunControl;
  readonly #resolve: Resolve;
  readonly #reject: Reject;

  constructor(control: RunControl, resolve: Resolve, reject: Reject) {
    this.#control = control;
    this.#resolve = resolve;
    this.#reject = reject;
  }

  get aborted(): boolean {
    return this.#control.aborted;
  }

  get reason(): unknown {
    return this.#control.reason;
  }

  listen(listener: AbortListenerObject): void {
    this.#control.listen(listener);
  }

  unlisten(listener: AbortListenerObject): void {
    this.#control.unlisten(listener);
  }

  onProgress(value: unknown): void {
    this.#control.onProgress(value);
  }

  onCharge(units: number, key: string | undefined): void {
    this.#control.onCharge(units, key);
  }

  get settlesPromise(): boolean {
    return true;
  }

  settle(ok: boolean, value: unknown): void {
    if (ok) this.#resolve(value);
    else this.#reject(value);
  }
}

/**
 * Wraps `run`'s options and promise functions into a {@link TaskControl}: once per run, at the
 * entry, so the rest of an executor deals with one type.
 */
export function promiseControl(options: ExecutionOptions, resolve: Resolve, reject: Reject): TaskControl {
  return options instanceof RunControl ? new ControlRun(options, resolve, reject) : new SignalRun(options, resolve, reject);
}
