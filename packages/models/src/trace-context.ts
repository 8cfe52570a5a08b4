import { z } from "zod";

/**
 * W3C trace context stored with a job, so a trace continues from the code that submitted it to
 * whichever engine runs it, in any process or machine.
 */
export interface TraceContext {
  /** The `traceparent` header value, e.g. `00-<32 hex>-<16 hex>-01`. */
  traceparent: string;
  /** The `tracestate` header value, when there is one. */
  tracestate?: string | undefined;
}

/** Limits of a stored {@link TraceContext} (W3C: tracestate up to 32 members, 512 characters is the common cut). */
export const TRACE_CONTEXT_LIMITS: Readonly<{ traceparent: number; tracestate: number }> = Object.freeze({
  traceparent: 55,
  tracestate: 512,
});

const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/** Zod schema of a stored {@link TraceContext}. */
export const TraceContextSchema: z.ZodType<TraceContext> = z
  .object({
    traceparent: z.string().regex(TRACEPARENT, "must be a W3C traceparent (00-<32 hex>-<16 hex>-<2 hex>)"),
    tracestate: z.string().max(TRACE_CONTEXT_LIMITS.tracestate).optional(),
  })
  .strict();

/**
 * The trace context to store for a propagator's carrier, or `undefined` when it holds no valid
 * `traceparent`. A `tracestate` longer than the limit is dropped (the trace still continues).
 */
export function fitTraceContext(carrier: Readonly<Record<string, string | undefined>>): TraceContext | undefined {
  const traceparent = carrier.traceparent;
  if (typeof traceparent !== "string" || !TRACEPARENT.test(traceparent)) return undefined;
  const tracestate = carrier.tracestate;
  return typeof tracestate === "string" && tracestate.length > 0 && tracestate.length <= TRACE_CONTEXT_LIMITS.tracestate
    ? { traceparent, tracestate }
    : { traceparent };
}
