import type { ExecutionOptions } from "./executor.js";

type AbortListener = (reason: unknown) => void;

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
  #listeners: AbortListener | AbortListener[] | undefined;

  /** Receives the handler's progress values, in order. */
  abstract onProgress(value: unknown): void;

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
    const call = (listener: AbortListener): void => {
      try {
        listener(reason);
      } catch (error) {
        if (!failed) firstError = error;
        failed = true;
      }
    };
    if (typeof listeners === "function") call(listeners);
    else if (listeners) for (const listener of listeners) call(listener);
    this.#controller?.abort(reason);
    if (failed) throw firstError;
  }

  /** Calls `listener` on abort (not if already aborted: check {@link aborted} first). */
  listen(listener: AbortListener): void {
    const current = this.#listeners;
    if (current === undefined) this.#listeners = listener;
    else if (typeof current === "function") this.#listeners = [current, listener];
    else current.push(listener);
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
  unlisten(listener: AbortListener): void {
    const current = this.#listeners;
    if (current === listener) this.#listeners = undefined;
    else if (Array.isArray(current)) {
      const i = current.indexOf(listener);
      if (i >= 0) current.splice(i, 1);
    }
  }
}
