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
export { AsyncExecutor, type AsyncExecutorOptions } from "./async-executor.js";
export type { PoolExecutorOptions, WorkerResourceLimits } from "./pool-options.js";
export { ThreadExecutor, type ThreadExecutorOptions } from "./thread-executor.js";
export { ProcessExecutor, type ProcessExecutorOptions } from "./process-executor.js";
export { ExecutorRouter, createExecutors, type CreateExecutorsOptions } from "./router.js";
