import type { Job, SerializedError, TraceContext } from "@pyrexis/models";
import type { AttemptDecision } from "./attempt-decision.js";

/** The spans of one submission, ended once the insert is durable (or failed). */
export interface SubmitSpans {
  /** The trace context to store with each job, in order (`undefined`: none). */
  readonly contexts: readonly (TraceContext | undefined)[];
  end(error?: unknown): void;
}

/** The span of one attempt. */
export interface AttemptSpan {
  /** The attempt ended as `decision` (with the attempt's error when it did not complete). */
  end(decision: AttemptDecision["kind"], error: SerializedError | undefined): void;
}

/**
 * Tracing hooks of an engine: how submissions and attempts become spans. `@pyrexis/engine/tracing`
 * implements them on OpenTelemetry; without them the engine does no tracing work at all.
 */
export interface EngineTracing {
  /** Called once per submission batch, before the insert. */
  submit(jobs: readonly Job[]): SubmitSpans;
  /** Called when an attempt's handler is about to start. */
  attempt(job: Job): AttemptSpan;
}
