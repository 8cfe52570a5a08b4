import type { Job, Result, SerializedError } from "@pyrexis/models";
import type { FinishedStatus } from "@pyrexis/storage";

/** Payloads of the engine's events, by event name. */
export interface EngineEventMap {
  /** A job was persisted as pending and queued. */
  "job:submitted": { job: Job };
  /** An attempt started. */
  "job:started": { job: Job; attempt: number };
  /** The handler reported progress. */
  "job:progress": { jobId: string; attempt: number; value: unknown };
  /** An attempt failed and the job will run again at `job.runAt`. */
  "job:retrying": { job: Job; error: SerializedError; delayMs: number };
  /** The job completed; its result is durable. */
  "job:completed": { job: Job; result: Result };
  /** The job failed for good; its result is durable. */
  "job:failed": { job: Job; result: Result };
  /** The job was cancelled; its result is durable. */
  "job:cancelled": { job: Job; result: Result };
  /** Retention deleted these finished jobs (and their results) of `status`: one event per store batch. */
  "jobs:pruned": { status: FinishedStatus; jobIds: readonly string[] };
  /** Nothing is queued, delayed or running. */
  "engine:drained": Record<string, never>;
  /** Something went wrong outside a job (a store commit failed, a listener threw…). */
  "engine:error": { error: unknown; context: string };
  /** A schedule's tick was handled: `submitted` is false when another engine had already submitted its job. */
  "schedule:tick": { name: string; tickAt: number; jobId: string; submitted: boolean };
}

/** An engine event name. */
export type EngineEventName = keyof EngineEventMap;
/** A listener of event `K`. */
export type EngineListener<K extends EngineEventName> = (event: EngineEventMap[K]) => void;

type AnyListener = (event: unknown) => void;

/**
 * A small typed event emitter. A listener that throws (or returns a rejected promise) never
 * breaks the emitter: the error is reported through `onListenerError`.
 */
export class TypedEmitter<M extends object> {
  readonly #listeners = new Map<keyof M, AnyListener[]>();
  readonly #onListenerError: (error: unknown, event: keyof M) => void;

  constructor(onListenerError: (error: unknown, event: keyof M) => void) {
    this.#onListenerError = onListenerError;
  }

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof M>(event: K, listener: (e: M[K]) => void): () => void {
    const list = this.#listeners.get(event);
    if (list) list.push(listener as AnyListener);
    else this.#listeners.set(event, [listener as AnyListener]);
    return () => this.off(event, listener);
  }

  /** Adds a listener that runs once. */
  once<K extends keyof M>(event: K, listener: (e: M[K]) => void): () => void {
    const off = this.on(event, (e) => {
      off();
      listener(e);
    });
    return off;
  }

  /** Removes a listener. */
  off<K extends keyof M>(event: K, listener: (e: M[K]) => void): void {
    const list = this.#listeners.get(event);
    if (!list) return;
    const i = list.indexOf(listener as AnyListener);
    if (i >= 0) list.splice(i, 1);
  }

  /** True when `event` has at least one listener (lets callers skip building payloads). */
  has(event: keyof M): boolean {
    const list = this.#listeners.get(event);
    return list !== undefined && list.length > 0;
  }

  /** Calls every listener of `event`; listener errors are caught and reported. */
  emit<K extends keyof M>(event: K, payload: M[K]): void {
    const list = this.#listeners.get(event);
    if (!list || list.length === 0) return;
    for (const listener of list.length === 1 ? list : [...list]) {
      try {
        const r = listener(payload) as unknown;
        // Any thenable, not only native promises: its rejection must not go unhandled.
        if (typeof (r as PromiseLike<unknown> | undefined)?.then === "function") {
          (r as PromiseLike<unknown>).then(undefined, (e: unknown) => this.#onListenerError(e, event));
        }
      } catch (e) {
        this.#onListenerError(e, event);
      }
    }
  }
}
