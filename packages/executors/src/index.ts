export type { ExecutionOptions, ExecutionTask, Executor } from "./executor.js";
export {
  defineHandlers,
  HandlersLoadError,
  loadHandlersModule,
  silentLogger,
  type Handler,
  type HandlerContext,
  type HandlerMap,
  type Logger,
  type LogLevel,
} from "./handlers.js";
export { RunControl, type AbortListenerObject } from "./run-control.js";
// The checks and log shaping of a handler's context, for other contexts (the engine's batches).
export { assertChargeArgs, jsonError, toLogRecord, writeLog } from "./invoke.js";
export { AsyncExecutor, type AsyncExecutorOptions } from "./async-executor.js";
export type { PoolExecutorOptions, WorkerResourceLimits } from "./pool-options.js";
export { ThreadExecutor, type ThreadExecutorOptions } from "./thread-executor.js";
export { ProcessExecutor, type ProcessExecutorOptions } from "./process-executor.js";
export { ExecutorRouter, createExecutors, type CreateExecutorsOptions } from "./router.js";
