/**
 * OpenTelemetry tracing of Pyrexis jobs (`@pyrexis/engine/tracing`): a `send <handler>` span
 * (PRODUCER) per submitted job, whose trace context is stored with the job, and a
 * `process <handler>` span (CONSUMER) per attempt in whichever engine runs it, a child of (and
 * linked to) the submit context, so a trace follows a job across processes and machines.
 * Attributes follow the OpenTelemetry messaging semantic conventions. Needs
 * `@opentelemetry/api` (an optional peer of the engine); without this module the engine does
 * no tracing work.
 *
 * @example
 * ```ts
 * import { trace } from "@opentelemetry/api";
 * import { createEngine } from "@pyrexis/engine";
 * import { openTelemetryTracing } from "@pyrexis/engine/tracing";
 *
 * const engine = await createEngine({ handlers, tracing: openTelemetryTracing({ tracer: trace.getTracer("my-app") }) });
 * ```
 *
 * @packageDocumentation
 */
import {
  context,
  createTraceState,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Attributes,
  type Link,
  type Span,
  type SpanContext,
  type Tracer,
} from "@opentelemetry/api";
import { fitTraceContext, type Job, type SerializedError, type TraceContext } from "@pyrexis/models";
import type { AttemptDecision } from "./attempt-decision.js";
import type { AttemptSpan, EngineTracing, SubmitSpans } from "./tracing-hooks.js";

export type { AttemptSpan, EngineTracing, SubmitSpans } from "./tracing-hooks.js";

/** Options of {@link openTelemetryTracing}. */
export interface OpenTelemetryTracingOptions {
  /** The tracer (default: `trace.getTracer("@pyrexis/engine")` of the global provider). */
  readonly tracer?: Tracer | undefined;
}

const SYSTEM = "pyrexis";

function jobAttributes(job: Job, operation: "send" | "process"): Attributes {
  return {
    "messaging.system": SYSTEM,
    "messaging.operation.name": operation,
    "messaging.operation.type": operation,
    "messaging.destination.name": job.handler,
    "messaging.message.id": job.id,
    "pyrexis.job.priority": job.priority,
    "pyrexis.job.mode": job.mode,
  };
}

/** The W3C `traceparent` of a span context. */
function traceparentOf(sc: SpanContext): string {
  return `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & TraceFlags.SAMPLED ? 1 : 0).toString(16).padStart(2, "0")}`;
}

/** The stored context as a remote span context, or `undefined` when it is missing or malformed. */
function spanContextOf(stored: TraceContext | undefined): SpanContext | undefined {
  if (!stored) return undefined;
  const [version, traceId, spanId, flags] = stored.traceparent.split("-");
  if (version === undefined || traceId === undefined || spanId === undefined || flags === undefined) return undefined;
  const sc: SpanContext = { traceId, spanId, traceFlags: Number.parseInt(flags, 16) & TraceFlags.SAMPLED, isRemote: true };
  if (stored.tracestate) sc.traceState = createTraceState(stored.tracestate);
  return trace.isSpanContextValid(sc) ? sc : undefined;
}

class OtelSubmitSpans implements SubmitSpans {
  constructor(
    readonly spans: readonly Span[],
    readonly contexts: readonly (TraceContext | undefined)[],
  ) {}
  end(error?: unknown): void {
    for (const span of this.spans) {
      if (error !== undefined) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : errorType(error) });
        span.setAttribute("error.type", errorType(error));
      }
      span.end();
    }
  }
}

class OtelAttemptSpan implements AttemptSpan {
  constructor(readonly span: Span) {}
  end(decision: AttemptDecision["kind"], error: SerializedError | undefined): void {
    const span = this.span;
    span.setAttribute("pyrexis.attempt.outcome", decision);
    if (decision !== "complete" && error !== undefined) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
      span.setAttribute("error.type", error.code ?? error.name);
      span.recordException({ name: error.name, message: error.message, ...(error.stack ? { stack: error.stack } : {}) });
    }
    span.end();
  }
}

function errorType(error: unknown): string {
  const e = error as { code?: unknown; name?: unknown } | undefined;
  if (e && typeof e.code === "string") return e.code;
  if (e && typeof e.name === "string") return e.name;
  return "_OTHER";
}

/** Tracing hooks on OpenTelemetry; pass them as the engine's `tracing` option. */
export function openTelemetryTracing(options: OpenTelemetryTracingOptions = {}): EngineTracing {
  const tracer = options.tracer ?? trace.getTracer("@pyrexis/engine");
  return {
    submit(jobs: readonly Job[]): SubmitSpans {
      const parent = context.active();
      const spans: Span[] = new Array<Span>(jobs.length);
      const contexts: (TraceContext | undefined)[] = new Array<TraceContext | undefined>(jobs.length);
      for (let i = 0; i < jobs.length; i++) {
        const job = jobs[i] as Job;
        const span = tracer.startSpan(`send ${job.handler}`, { kind: SpanKind.PRODUCER, attributes: jobAttributes(job, "send") }, parent);
        spans[i] = span;
        const sc = span.spanContext();
        contexts[i] = trace.isSpanContextValid(sc)
          ? fitTraceContext({ traceparent: traceparentOf(sc), tracestate: sc.traceState?.serialize() })
          : undefined;
      }
      return new OtelSubmitSpans(spans, contexts);
    },
    attempt(job: Job): AttemptSpan {
      const remote = spanContextOf(job.traceContext);
      const parent = remote ? trace.setSpanContext(ROOT_CONTEXT, remote) : context.active();
      const links: Link[] = remote ? [{ context: remote }] : [];
      const attributes = jobAttributes(job, "process");
      attributes["pyrexis.job.attempt"] = job.attempts;
      const span = tracer.startSpan(`process ${job.handler}`, { kind: SpanKind.CONSUMER, attributes, links }, parent);
      return new OtelAttemptSpan(span);
    },
  };
}
