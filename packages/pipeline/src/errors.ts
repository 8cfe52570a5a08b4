/** The stable code of {@link PipelineStageError}. */
export const PIPELINE_STAGE_CODE = "PIPELINE_STAGE" as const;

/** Where a {@link PipelineStageError} happened. */
export interface PipelineStageErrorOptions {
  /** Position of the stage in its pipeline (0-based); `-1` for the pipeline's input stream. */
  readonly stageIndex?: number;
  /** 0-based position of the stream item being processed, for stream stages. */
  readonly index?: number;
}

/**
 * A stage failed. Names the stage, the item (for stream stages) and keeps the original error as
 * `cause`. Branch on `code` (or {@link isPipelineStageError}), not on `message`.
 *
 * This package depends on nothing else of Pyrexis, so this class is not a `PyrexisError`; the
 * engine records its `name`, `code` and `message` like any other handler error.
 *
 * @example
 * ```ts
 * try { await handler(payload) } catch (e) {
 *   if (isPipelineStageError(e)) console.error(e.stage, e.index, e.cause)
 * }
 * ```
 */
export class PipelineStageError extends Error {
  /** Always `"PIPELINE_STAGE"`. */
  readonly code: "PIPELINE_STAGE" = PIPELINE_STAGE_CODE;
  /** Name of the stage that failed (`"input"` when the pipeline's input stream itself threw). */
  readonly stage: string;
  /** Position of the stage in its pipeline; `undefined` when a helper ran outside a pipeline. */
  readonly stageIndex: number | undefined;
  /** 0-based index of the stream item the stage was processing; `undefined` for value stages. */
  readonly index: number | undefined;

  constructor(stage: string, cause: unknown, options: PipelineStageErrorOptions = {}) {
    const at = options.index === undefined ? "" : ` at item ${options.index}`;
    const pos = options.stageIndex === undefined ? "" : ` (#${options.stageIndex})`;
    super(`pipeline stage "${stage}"${pos} failed${at}: ${describe(cause)}`, { cause });
    this.name = "PipelineStageError";
    this.stage = stage;
    this.stageIndex = options.stageIndex;
    this.index = options.index;
  }
}

/**
 * True when `e` is a {@link PipelineStageError}. Checks `name` and `code` rather than only
 * `instanceof`, so it also recognizes errors from a second copy of this package.
 */
export function isPipelineStageError(e: unknown): e is PipelineStageError {
  if (e instanceof PipelineStageError) return true;
  if (typeof e !== "object" || e === null) return false;
  const { name, code } = e as { name?: unknown; code?: unknown };
  return name === "PipelineStageError" && code === PIPELINE_STAGE_CODE;
}

function describe(cause: unknown): string {
  if (cause instanceof Error) return cause.message;
  try {
    return String(cause);
  } catch {
    return "non-printable error";
  }
}
