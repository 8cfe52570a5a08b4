import { CommanderError } from "commander";
import { ErrorCode, isPyrexisError, StoreFailureError, ValidationError, type ValidationIssue } from "@pyrexis/models";

/** Exit code of a successful run. */
export const EXIT_OK = 0;
/** Exit code of a runtime failure: missing or foreign database, unknown job, store failure. */
export const EXIT_FAILURE = 1;
/** Exit code of a usage error: bad flag, bad JSON or job spec, unknown handler or mode. */
export const EXIT_USAGE = 2;

/** The command line or its input is wrong (exit code 2). A `ValidationError` (with `issues`) of its own code, `USAGE`. */
export class UsageError extends ValidationError {
  override readonly code: ErrorCode = ErrorCode.USAGE;
  constructor(message: string, issues: readonly ValidationIssue[] = []) {
    super(message, issues);
    this.name = "UsageError";
  }
}

/**
 * A read command (or the worker) was pointed at a path with no database yet: no file, or an empty
 * one (which `submit` would turn into a database, as it creates a missing one). It never creates one.
 * Code `STORE_MISSING`.
 */
export class StoreMissingError extends StoreFailureError {
  override readonly code: ErrorCode = ErrorCode.STORE_MISSING;
  readonly path: string;
  constructor(path: string, found: "nothing" | "empty file" = "nothing") {
    const what = found === "empty file" ? `${path} is an empty file, not a Pyrexis database yet` : `no Pyrexis database at ${path}`;
    super(`${what} (this command never creates one: submit a job first, or pass --store / PYREXIS_STORE)`);
    this.name = "StoreMissingError";
    this.path = path;
  }
}

// Bad input, not a failure of the world: the user should fix the command line.
const USAGE_CODES: ReadonlySet<string> = new Set([
  "VALIDATION",
  "USAGE",
  "HANDLER_NOT_FOUND",
  "UNKNOWN_MODE",
  "INVALID_SCHEDULE",
  "UNKNOWN_DEPENDENCY",
  "DEPENDENCY_CYCLE",
]);

/** Maps an error to the CLI's exit code (see the README's table). */
export function exitCodeOf(error: unknown): number {
  if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
  if (isPyrexisError(error) && USAGE_CODES.has(error.code)) return EXIT_USAGE;
  // A --handlers module that cannot be imported is a bad flag value.
  if (error instanceof Error && error.name === "HandlersLoadError") return EXIT_USAGE;
  return EXIT_FAILURE;
}

/** The error as one line (`pyrexis: error: …` is prepended by the caller). */
export function oneLine(error: unknown): string {
  let message = error instanceof Error ? error.message : String(error);
  // commander prefixes its messages with "error: " and may add a suggestion on a new line.
  if (error instanceof CommanderError) message = message.replace(/^error:\s*/, "");
  return message.replace(/\s*[\r\n]+\s*/g, " ").trim();
}
