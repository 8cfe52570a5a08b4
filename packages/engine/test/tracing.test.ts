import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { context, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { MemoryJobStore } from "@pyrexis/storage";
import { createEngine } from "../src/index.js";
import { openTelemetryTracing } from "../src/tracing.js";
import { engineWith } from "./helpers.js";

const handlersModule = fileURLToPath(new URL("./fixtures/handlers.mjs", import.meta.url));

function tracer(): { exporter: InMemorySpanExporter; tracing: ReturnType<typeof openTelemetryTracing>; provider: BasicTracerProvider } {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  return { exporter, provider, tracing: openTelemetryTracing({ tracer: provider.getTracer("test") }) };
}

const providers: BasicTracerProvider[] = [];
afterEach(async () => {
  for (const p of providers.splice(0)) await p.shutdown();
});

function byName(spans: readonly ReadableSpan[], name: string): ReadableSpan[] {
  return spans.filter((s) => s.name === name);
}

describe("OpenTelemetry tracing", () => {
  it("a send span per submitted job (PRODUCER) and a process span per attempt (CONSUMER), child of and linked to it", async () => {
    const { exporter, tracing, provider } = tracer();
    providers.push(provider);
    let calls = 0;
    const engine = engineWith(
      {
        flaky: () => {
          if (++calls === 1) throw Object.assign(new Error("first try fails"), { code: "FLAKY" });
          return "ok";
        },
      },
      { tracing },
    );
    const job = await engine.submitJob({ handler: "flaky", priority: 7, backoff: { baseMs: 0, maxMs: 0 } });
    expect(job.traceContext?.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(await engine.runNext()).toMatchObject({ status: "completed", attempts: 2 });
    await engine.shutdown();
    const spans = exporter.getFinishedSpans();
    const [send] = byName(spans, "send flaky");
    const process = byName(spans, "process flaky");
    expect(send?.kind).toBe(SpanKind.PRODUCER);
    expect(send?.attributes).toMatchObject({
      "messaging.system": "pyrexis",
      "messaging.operation.name": "send",
      "messaging.operation.type": "send",
      "messaging.message.id": job.id,
      "pyrexis.job.priority": 7,
      "pyrexis.job.mode": "async",
    });
    expect(process).toHaveLength(2);
    for (const [i, span] of process.entries()) {
      expect(span.kind).toBe(SpanKind.CONSUMER);
      expect(span.spanContext().traceId).toBe(send!.spanContext().traceId);
      expect(span.parentSpanContext?.spanId).toBe(send!.spanContext().spanId);
      expect(span.links[0]?.context.spanId).toBe(send!.spanContext().spanId);
      expect(span.attributes).toMatchObject({
        "messaging.operation.name": "process",
        "messaging.message.id": job.id,
        "pyrexis.job.attempt": i + 1,
      });
    }
    expect(process[0]?.status.code).toBe(SpanStatusCode.ERROR);
    expect(process[0]?.attributes["error.type"]).toBe("FLAKY");
    expect(process[0]?.events.some((e) => e.name === "exception")).toBe(true);
    expect(process[1]?.status.code).not.toBe(SpanStatusCode.ERROR);
  });

  it("a batch submit makes one send span for the batch (message count, no message id); every job's process span is its child and linked to it", async () => {
    const { exporter, tracing, provider } = tracer();
    providers.push(provider);
    const engine = engineWith({ echo: (p) => p }, { tracing });
    const jobs = await engine.submitJobs([1, 2, 3].map((payload) => ({ handler: "echo", payload })));
    expect(new Set(jobs.map((j) => j.traceContext?.traceparent)).size).toBe(1);
    while ((await engine.runNext()) !== undefined);
    await engine.shutdown();
    const spans = exporter.getFinishedSpans();
    const sends = spans.filter((s) => s.name.startsWith("send"));
    expect(sends.map((s) => s.name)).toEqual(["send echo"]);
    const send = sends[0]!;
    expect(send.kind).toBe(SpanKind.PRODUCER);
    expect(send.attributes).toEqual({
      "messaging.system": "pyrexis",
      "messaging.operation.name": "send",
      "messaging.operation.type": "send",
      "messaging.destination.name": "echo",
      "messaging.batch.message_count": 3,
    });
    expect(jobs[0]?.traceContext?.traceparent).toBe(`00-${send.spanContext().traceId}-${send.spanContext().spanId}-01`);
    const process = byName(spans, "process echo");
    expect(process.map((s) => s.attributes["messaging.message.id"]).sort()).toEqual(jobs.map((j) => j.id).sort());
    for (const span of process) {
      expect(span.kind).toBe(SpanKind.CONSUMER);
      expect(span.spanContext().traceId).toBe(send.spanContext().traceId);
      expect(span.parentSpanContext?.spanId).toBe(send.spanContext().spanId);
      expect(span.links.map((l) => l.context.spanId)).toEqual([send.spanContext().spanId]);
      expect(span.attributes["messaging.batch.message_count"]).toBeUndefined();
    }
  });

  it("a batch of several handlers: one span named `send` without a destination; a failed insert marks it failed", async () => {
    const { exporter, tracing, provider } = tracer();
    providers.push(provider);
    const store = new MemoryJobStore();
    const engine = engineWith({ a: () => 1, b: () => 2 }, { store, tracing });
    await engine.submitJobs([{ handler: "a" }, { handler: "b" }, { handler: "a" }]);
    const insert = store.commit.bind(store);
    store.commit = () => Promise.reject(Object.assign(new Error("disk full"), { code: "EFULL" }));
    await expect(engine.submitJobs([{ handler: "a" }, { handler: "a" }])).rejects.toThrow("disk full");
    store.commit = insert;
    while ((await engine.runNext()) !== undefined);
    await engine.shutdown();
    const spans = exporter.getFinishedSpans();
    const sends = spans.filter((s) => s.name.startsWith("send"));
    expect(sends.map((s) => s.name)).toEqual(["send", "send a"]);
    expect(sends[0]?.attributes["messaging.destination.name"]).toBeUndefined();
    expect(sends[0]?.attributes["messaging.batch.message_count"]).toBe(3);
    expect(sends[0]?.status.code).not.toBe(SpanStatusCode.ERROR);
    expect(sends[1]?.status.code).toBe(SpanStatusCode.ERROR);
    expect(sends[1]?.attributes["error.type"]).toBe("STORE_FAILURE"); // the engine wraps the store's error
    const process = spans.filter((s) => s.name.startsWith("process"));
    expect(process.map((s) => s.name).sort()).toEqual(["process a", "process a", "process b"]);
    for (const span of process) expect(span.parentSpanContext?.spanId).toBe(sends[0]?.spanContext().spanId);
  });

  it("a submit of one job keeps its own send span (message id, no batch count)", async () => {
    const { exporter, tracing, provider } = tracer();
    providers.push(provider);
    const engine = engineWith({ echo: (p) => p }, { tracing });
    const [job] = await engine.submitJobs([{ handler: "echo" }]);
    await engine.shutdown();
    const [send, ...more] = exporter.getFinishedSpans();
    expect(more).toEqual([]);
    expect(send?.name).toBe("send echo");
    expect(send?.attributes["messaging.message.id"]).toBe(job!.id);
    expect(send?.attributes["messaging.batch.message_count"]).toBeUndefined();
  });

  it("an empty submit makes no span", async () => {
    const { exporter, tracing, provider } = tracer();
    providers.push(provider);
    const engine = engineWith({ echo: (p) => p }, { tracing });
    expect(await engine.submitJobs([])).toEqual([]);
    await engine.shutdown();
    expect(exporter.getFinishedSpans()).toEqual([]);
  });

  it("a job stored by another process with a foreign or malformed trace context: continued when valid, a root span when not", async () => {
    const { exporter, tracing, provider } = tracer();
    providers.push(provider);
    const store = new MemoryJobStore();
    const engine = engineWith({ echo: (p) => p }, { store, tracing });
    const trace1 = "4bf92f3577b34da6a3ce929d0e0e4736";
    const cases: [string, { traceparent: string; tracestate?: string }][] = [
      ["foreign", { traceparent: `00-${trace1}-00f067aa0ba902b7-01`, tracestate: "vendor=abc" }],
      // The same traceparent right after, without a tracestate: parsed on its own, not reused.
      ["foreign-no-state", { traceparent: `00-${trace1}-00f067aa0ba902b7-01` }],
      ["zero-ids", { traceparent: `00-${"0".repeat(32)}-${"0".repeat(16)}-01` }],
      ["not-hex", { traceparent: `00-${"x".repeat(32)}-00f067aa0ba902b7-01` }],
      ["bad-dashes", { traceparent: `00_${trace1}_00f067aa0ba902b7_01` }],
      ["bad-flags", { traceparent: `00-${trace1}-00f067aa0ba902b7-zz` }],
      ["short", { traceparent: `00-${trace1}-01` }],
    ];
    for (const [id, traceContext] of cases) {
      const [job] = await engine.submitJobs([{ id, handler: "echo" }]);
      // As another process's engine would have written it.
      await store.commit({ update: [{ job: { ...job!, traceContext, version: job!.version + 1 }, expectedVersion: job!.version }] });
    }
    while ((await engine.runNext()) !== undefined);
    await engine.shutdown();
    const process = byName(exporter.getFinishedSpans(), "process echo");
    const of = (id: string) => process.find((s) => s.attributes["messaging.message.id"] === id)!;
    expect(of("foreign").spanContext().traceId).toBe(trace1);
    expect(of("foreign").parentSpanContext?.spanId).toBe("00f067aa0ba902b7");
    expect(of("foreign").links[0]?.context.traceState?.get("vendor")).toBe("abc");
    expect(of("foreign-no-state").parentSpanContext?.spanId).toBe("00f067aa0ba902b7");
    expect(of("foreign-no-state").links[0]?.context.traceState).toBeUndefined();
    for (const id of ["zero-ids", "not-hex", "bad-dashes", "bad-flags", "short"]) {
      expect(of(id).parentSpanContext, id).toBeUndefined();
      expect(of(id).links, id).toEqual([]);
    }
  });

  it("continues the submitter's active trace", async () => {
    const { exporter, tracing, provider } = tracer();
    providers.push(provider);
    const engine = engineWith({ echo: (p) => p }, { tracing });
    const manager = new AsyncLocalStorageContextManager().enable();
    context.setGlobalContextManager(manager);
    try {
      const outer = provider.getTracer("app").startSpan("request");
      await context.with(trace.setSpan(context.active(), outer), () => engine.submitJob({ handler: "echo" }));
      outer.end();
      await engine.runNext();
      await engine.shutdown();
      const [send] = byName(exporter.getFinishedSpans(), "send echo");
      expect(send?.spanContext().traceId).toBe(outer.spanContext().traceId);
      expect(send?.parentSpanContext?.spanId).toBe(outer.spanContext().spanId);
    } finally {
      context.disable();
    }
  });

  it("the trace continues in a second engine that runs the job (shared store)", async () => {
    const { exporter, tracing, provider } = tracer();
    providers.push(provider);
    const store = new MemoryJobStore();
    const submitter = engineWith({ echo: (p) => p }, { store, tracing, closeStore: false });
    const worker = engineWith({ echo: (p) => p }, { store, tracing, closeStore: false });
    const job = await submitter.submitJob({ handler: "echo", payload: 1 });
    expect(await worker.runNext()).toMatchObject({ jobId: job.id, status: "completed" });
    await submitter.shutdown();
    await worker.shutdown();
    const spans = exporter.getFinishedSpans();
    const [send] = byName(spans, "send echo");
    const [proc] = byName(spans, "process echo");
    expect(proc?.parentSpanContext?.spanId).toBe(send?.spanContext().spanId);
    expect(proc?.parentSpanContext?.isRemote).toBe(true);
  });

  it("traces thread and process mode attempts (the span is the engine's; the job crosses the worker boundary)", async () => {
    const { exporter, tracing, provider } = tracer();
    providers.push(provider);
    const engine = await createEngine({ handlers: handlersModule, tracing, thread: { maxWorkers: 1 }, process: { maxWorkers: 1 } });
    const jobs = await engine.submitJobs([
      { handler: "where", payload: { spin: 10 }, mode: "thread" },
      { handler: "where", payload: { spin: 10 }, mode: "process" },
    ]);
    const loop = engine.runLoop();
    for (const j of jobs) expect((await engine.waitForResult(j.id)).status).toBe("completed");
    await engine.shutdown();
    await loop;
    const spans = exporter.getFinishedSpans();
    // One send span for the batch of two; each attempt's span continues it.
    const [send, ...more] = byName(spans, "send where");
    expect(more).toEqual([]);
    for (const j of jobs) {
      const proc = spans.find((s) => s.name === "process where" && s.attributes["messaging.message.id"] === j.id);
      expect(proc?.attributes["pyrexis.job.mode"]).toBe(j.mode);
      expect(proc?.parentSpanContext?.spanId).toBe(send?.spanContext().spanId);
    }
  }, 30_000);

  it("without tracing hooks no trace context is stored", async () => {
    const engine = engineWith({ echo: (p) => p });
    const job = await engine.submitJob({ handler: "echo" });
    expect(job.traceContext).toBeUndefined();
    await engine.shutdown();
  });
});
