export { PipelineStageError, isPipelineStageError, PIPELINE_STAGE_CODE, type PipelineStageErrorOptions } from "./errors.js";
export type {
  AnyIterable,
  AnyStage,
  MetricsSink,
  PipelineContext,
  PipelineHandler,
  PipelineOptions,
  PipelineOutput,
  RunOptions,
  StageContext,
  StageProgress,
  StageResult,
  TransformStage,
  ValueStage,
} from "./types.js";
export { STAGE_METRIC } from "./internal.js";
export { stage, transform } from "./stage.js";
export { map, filter, tap, take, flatMap, batch, type MapOptions, type BatchOptions, type HelperOptions } from "./operators.js";
export { runPipeline, pipeline, createPipeline, DEFAULT_PROGRESS_INTERVAL_MS } from "./run.js";
