// The options of a submission: `ifExists` says what an id the store already holds does
// (`splitExisting` of `@pyrexis/storage` does the look-up).
import { ValidationError } from "@pyrexis/models";

/** What {@link Engine.submitJobs} does with a spec whose id the store already holds. */
export type IfExists = "error" | "return";

/** Options of `submitJob` and `submitJobs`. */
export interface SubmitOptions {
  /**
   * `"error"` (default): an existing id rejects the whole submission with `DuplicateJobError`.
   * `"return"`: the existing job is returned in that spec's place (whatever its status), and
   * only the other specs are written; the existing job must have the same handler, mode and
   * payload, else `JobConflictError` and nothing is written. Within one batch, a repeated id is
   * returned as the job of its first spec.
   */
  readonly ifExists?: IfExists | undefined;
}

/** Checks submit options; `ValidationError` for anything else than documented. */
export function parseSubmitOptions(options: unknown): IfExists {
  if (options === undefined) return "error";
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new ValidationError("submit options must be an object", [{ path: ["options"], message: "must be an object" }]);
  }
  for (const key of Object.keys(options)) {
    if (key !== "ifExists")
      throw new ValidationError(`submit options: unknown option "${key}"`, [{ path: [key], message: "unknown option" }]);
  }
  const ifExists = (options as SubmitOptions).ifExists;
  if (ifExists === undefined || ifExists === "error" || ifExists === "return") return ifExists ?? "error";
  throw new ValidationError(`submit options: ifExists must be "error" or "return", got ${JSON.stringify(ifExists)}`, [
    { path: ["ifExists"], message: 'must be "error" or "return"' },
  ]);
}
