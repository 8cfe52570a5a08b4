/**
 * OpenTelemetry tracing of Pyrexis jobs (`@pyrexis/engine/tracing`): a `send <handler>` span
 * (PRODUCER) per submission (one for a batch of jobs, with `messaging.batch.message_count`), whose
 * trace context is stored with its jobs, and a `process <handler>` span (CONSUMER) per attempt in
 * whichever engine runs it, a child of (and linked to) the submit context, so a trace follows a
 * job across processes and machines. Attributes follow the OpenTelemetry messaging semantic
 * conventions (docs/ARCHITECTURE.md, "Tracing", says why a batch has one span). Needs
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
  type Context,
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

/** The trace context to store for a valid span context (built here, so no re-validation). */
function traceContextOf(sc: SpanContext): TraceContext {
  const traceparent = `00-${sc.traceId}-${sc.spanId}-${sc.traceFlags & TraceFlags.SAMPLED ? "01" : "00"}`;
  const tracestate = sc.traceState?.serialize();
  // A tracestate too long to store is dropped, as `fitTraceContext` does (the trace goes on).
  return tracestate ? (fitTraceContext({ traceparent, tracestate }) ?? { traceparent }) : { traceparent };
}

/** Length of a version-00 `traceparent`: `00-<32 hex>-<16 hex>-<2 hex>`. */
const TRACEPARENT_LENGTH = 55;

/**
 * The stored context as a remote span context, or `undefined` when it is missing or malformed.
 * Read at fixed offsets (the stored form is version 00, fixed length); the ids are checked by
 * `isSpanContextValid`, the flags here.
 */
function spanContextOf(stored: TraceContext | undefined): SpanContext | undefined {
  if (!stored) return undefined;
  const tp = stored.traceparent;
  if (tp.length !== TRACEPARENT_LENGTH || tp[2] !== "-" || tp[35] !== "-" || tp[52] !== "-") return undefined;
  const flags = Number.parseInt(tp.slice(53), 16);
  if (Number.isNaN(flags)) return undefined;
  const sc: SpanContext = { traceId: tp.slice(3, 35), spanId: tp.slice(36, 52), traceFlags: flags & TraceFlags.SAMPLED, isRemote: true };
  if (stored.tracestate) sc.traceState = createTraceState(stored.tracestate);
  return trace.isSpanContextValid(sc) ? sc : undefined;
}

class OtelSubmitSpans implements SubmitSpans {
  constructor(
    readonly span: Span,
    readonly contexts: readonly (TraceContext | undefined)[],
  ) {}
  end(error?: unknown): void {
    const span = this.span;
    if (error !== undefined) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : errorType(error) });
      span.setAttribute("error.type", errorType(error));
    }
    span.end();
  }
}

const NO_SPANS: SubmitSpans = Object.freeze({ contexts: [], end: () => {} });

/** The handler every job of the batch names, or `undefined` when they differ. */
function sharedHandler(jobs: readonly Job[]): string | undefined {
  const handler = (jobs[0] as Job).handler;
  for (let i = 1; i < jobs.length; i++) if ((jobs[i] as Job).handler !== handler) return undefined;
  return handler;
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

/** A stored trace context as parsed for the last attempt (`remote` undefined: malformed). */
interface ParsedContext {
  readonly traceparent: string;
  readonly tracestate: string | undefined;
  readonly remote: SpanContext | undefined;
  readonly parent: Context | undefined;
}

/** Tracing hooks on OpenTelemetry; pass them as the engine's `tracing` option. */
export function openTelemetryTracing(options: OpenTelemetryTracingOptions = {}): EngineTracing {
  const tracer = options.tracer ?? trace.getTracer("@pyrexis/engine");
  let last: ParsedContext = { traceparent: "", tracestate: undefined, remote: undefined, parent: undefined };
  return {
    submit(jobs: readonly Job[]): SubmitSpans {
      if (jobs.length === 0) return NO_SPANS; // `submitJobs([])`: nothing was sent
      const parent = context.active();
      if (jobs.length === 1) {
        const job = jobs[0] as Job;
        const span = tracer.startSpan(`send ${job.handler}`, { kind: SpanKind.PRODUCER, attributes: jobAttributes(job, "send") }, parent);
        const sc = span.spanContext();
        return new OtelSubmitSpans(span, [trace.isSpanContextValid(sc) ? traceContextOf(sc) : undefined]);
      }
      // A batch: one send span for all its jobs (the messaging conventions' batch send), whose
      // context every job stores as its creation context (no per-message `create` spans).
      const handler = sharedHandler(jobs);
      const attributes: Attributes = {
        "messaging.system": SYSTEM,
        "messaging.operation.name": "send",
        "messaging.operation.type": "send",
        "messaging.batch.message_count": jobs.length,
      };
      if (handler !== undefined) attributes["messaging.destination.name"] = handler;
      const span = tracer.startSpan(handler === undefined ? "send" : `send ${handler}`, { kind: SpanKind.PRODUCER, attributes }, parent);
      const sc = span.spanContext();
      const stored = trace.isSpanContextValid(sc) ? traceContextOf(sc) : undefined;
      return new OtelSubmitSpans(span, new Array<TraceContext | undefined>(jobs.length).fill(stored));
    },
    attempt(job: Job): AttemptSpan {
      const stored = job.traceContext;
      let remote: SpanContext | undefined;
      let parent: Context;
      if (stored === undefined) parent = context.active();
      else {
        // The jobs of a batch share one stored context, and run in a row: the last parse is
        // reused while the stored context is the same (SpanContext and Context are immutable).
        if (stored.traceparent !== last.traceparent || stored.tracestate !== last.tracestate) {
          const sc = spanContextOf(stored);
          last = {
            traceparent: stored.traceparent,
            tracestate: stored.tracestate,
            remote: sc,
            parent: sc && trace.setSpanContext(ROOT_CONTEXT, sc),
          };
        }
        remote = last.remote;
        parent = last.parent ?? context.active();
      }
      const links: Link[] = remote ? [{ context: remote }] : [];
      const attributes = jobAttributes(job, "process");
      attributes["pyrexis.job.attempt"] = job.attempts;
      const span = tracer.startSpan(`process ${job.handler}`, { kind: SpanKind.CONSUMER, attributes, links }, parent);
      return new OtelAttemptSpan(span);
    },
  };
}
