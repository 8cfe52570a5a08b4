export { Engine, type EngineState } from "./engine.js";
export type { EngineOptions, ExecutorSource, ShutdownOptions, WaitOptions } from "./options.js";
export type { IfExists, SubmitOptions } from "./submit-options.js";
export type { LimitOptions, LimitsOptions, RateOptions } from "./flow-control/limits.js";
export type { DeadLetterQuery, RedriveFilter, RedriveReport } from "@pyrexis/storage";
export { resolveRetention, type RetentionOptions, type RetentionPolicy, type RetentionRule, type RetentionStep } from "./retention.js";
export { TypedEmitter, type EngineEventMap, type EngineEventName, type EngineListener } from "./events.js";
export { ShutdownCoordinator, type ShutdownCallback, type ShutdownReport, type SignalHandlerOptions } from "./shutdown.js";
export { silentLogger, type Logger } from "@pyrexis/executors";
export { createEngine, type CreateEngineOptions } from "./create-engine.js";
export { batchHandler, type BatchContext, type BatchFunction, type BatchHandler, type BatchItem } from "./batch-handler.js";
export type { BatchOptions } from "./batching.js";
export { serveMetrics, type MetricsServer, type MetricsServerOptions } from "./metrics-server.js";
export type { PeekableScheduler, QueueEntry, SchedulerFactory } from "./local-queue.js";
export type { AttemptSpan, EngineTracing, SubmitSpans } from "./tracing-hooks.js";
export {
  buildScheduleRecord,
  DEFAULT_CATCH_UP_LIMIT,
  MAX_CATCH_UP_LIMIT,
  nextScheduleTick,
  tickJobId,
  type ScheduleInfo,
  type ScheduleOptions,
  type ScheduleSpecInput,
} from "./schedules.js";
export { decideAttempt, type AbortKind, type AttemptDecision, type AttemptEnd } from "./attempt-decision.js";

// What most applications need, so `@pyrexis/engine` alone is enough to write handlers and
// branch on errors.
export { defineHandlers, type Handler, type HandlerContext, type HandlerMap } from "@pyrexis/executors";
export {
  ErrorCode,
  isPyrexisError,
  NonRetryableError,
  PyrexisError,
  type Job,
  type JobSpecInput,
  type JobStatus,
  type Result,
} from "@pyrexis/models";
export { MemoryJobStore, type JobStore } from "@pyrexis/storage";
