import type { ExecutionOptions } from "./executor.js";

type AbortListener = (reason: unknown) => void;

/**
 * A listener object for {@link RunControl.listen}: its `handleEvent(reason)` runs on abort. A
 * record that exists per run anyway can listen this way without a closure per run (the shape
 * `EventTarget` accepts too).
 */
export interface AbortListenerObject {
  handleEvent(reason: unknown): void;
}

type Listener = AbortListener | AbortListenerObject;

/**
 * {@link ExecutionOptions} whose `signal` is made only when someone reads it.
 *
 * Why: a Node `AbortController` costs several microseconds to create, more than the rest of an
 * engine's per-job work for short jobs, and most runs are never aborted. A caller extends this
 * class (it supplies `onProgress`) and calls {@link abort}; executors that know `RunControl`
 * subscribe with {@link listen}, which allocates nothing, while any other executor reads
 * `signal` and gets a real `AbortSignal` that is already aborted if the run was.
 *
 * @example
 * ```ts
 * class Run extends RunControl {
 *   onProgress(value: unknown): void { console.log("progress", value); }
 * }
 * const run = new Run();
 * const output = executor.run(task, run);
 * setTimeout(() => run.abort(new Error("too slow")), 5_000);
 * ```
 */
export abstract class RunControl implements ExecutionOptions {
  #controller: AbortController | undefined;
  #aborted = false;
  #reason: unknown;
  /** One listener (the common case) or several. */
  #listeners: Listener | Listener[] | undefined;

  /** Receives the handler's progress values, in order. */
  abstract onProgress(value: unknown): void;

  /** Receives the handler's `ctx.charge` calls, in order with its progress; the default ignores them. */
  onCharge(units: number, key: string | undefined): void {
    void units;
    void key;
  }

  /** A real `AbortSignal` for this run, created on first read. */
  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /** True once {@link abort} was called. */
  get aborted(): boolean {
    return this.#aborted;
  }

  /** What {@link abort} was called with (`undefined` before). */
  get reason(): unknown {
    return this.#reason;
  }

  /**
   * Aborts the run once: the listeners run (in the order they were added), then `signal`, if
   * it was read, aborts with `reason`. Later calls do nothing. A listener that throws does not
   * stop the others or the signal; its error is rethrown at the end.
   */
  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    const listeners = this.#listeners;
    this.#listeners = undefined;
    // Every listener runs and the signal aborts even if one throws; then the first error is rethrown.
    let failed = false;
    let firstError: unknown;
    const call = (listener: Listener): void => {
      try {
        if (typeof listener === "function") listener(reason);
        else listener.handleEvent(reason);
      } catch (error) {
        if (!failed) firstError = error;
        failed = true;
      }
    };
    if (Array.isArray(listeners)) for (const listener of listeners) call(listener);
    else if (listeners !== undefined) call(listeners);
    this.#controller?.abort(reason);
    if (failed) throw firstError;
  }

  /**
   * Calls `listener` (a function, or an object's `handleEvent`) with the reason on abort; not if
   * already aborted: check {@link aborted} first.
   */
  listen(listener: AbortListener | AbortListenerObject): void {
    const current = this.#listeners;
    if (current === undefined) this.#listeners = listener;
    else if (Array.isArray(current)) current.push(listener);
    else this.#listeners = [current, listener];
  }

  /**
   * Receives the outcome of a run started with `Executor.start` (`ok` and the output, or not
   * `ok` and the error): exactly once, and never synchronously inside `start`. The default
   * ignores it; a caller that uses `start` overrides it.
   */
  settle(ok: boolean, value: unknown): void {
    void ok;
    void value;
  }

  /** Removes a listener added with {@link listen}. */
  unlisten(listener: AbortListener | AbortListenerObject): void {
    const current = this.#listeners;
    if (current === listener) this.#listeners = undefined;
    else if (Array.isArray(current)) {
      const i = current.indexOf(listener);
      if (i >= 0) current.splice(i, 1);
    }
  }
}
