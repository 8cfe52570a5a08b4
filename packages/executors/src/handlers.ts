import { pathToFileURL } from "node:url";
import { ErrorCode, NonRetryableError, type PyrexisErrorOptions } from "@pyrexis/models";
import { nativeImport, typescriptHint, type ModuleImporter } from "./typescript.js";

/**
 * The slice of a pino-compatible logger that handlers and executors use. Pass a pino logger as
 * is; the default is {@link silentLogger}.
 */
export interface Logger {
  debug(objOrMsg: unknown, msg?: string): void;
  info(objOrMsg: unknown, msg?: string): void;
  warn(objOrMsg: unknown, msg?: string): void;
  error(objOrMsg: unknown, msg?: string): void;
}

/** Log levels of {@link Logger}. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const noop = (): void => {};

/** A {@link Logger} that drops everything (the default). */
export const silentLogger: Logger = Object.freeze({ debug: noop, info: noop, warn: noop, error: noop });

/** What a handler receives beside its payload. */
export interface HandlerContext {
  readonly jobId: string;
  /** 1 for the first attempt. */
  readonly attempt: number;
  /**
   * Aborted on timeout or cancellation (`signal.reason` is the engine's `TimeoutError` or
   * `CancelledError`). Stop soon after: thread and process workers that ignore it are killed.
   */
  readonly signal: AbortSignal;
  /**
   * Reports progress to the caller, in order. `value` must be a JSON value (else this throws a
   * `ValidationError`); calls after the attempt ended are dropped.
   */
  progress(value: unknown): void;
  /**
   * Reports what the call really used on one of the job's limits (`units`, an integer ≥ 0; `key`
   * defaults to the job's first limit with a rate), e.g. the tokens an LLM API billed: the engine
   * replaces the units the job was admitted with by these, charging or crediting the difference.
   * Throws a `ValidationError` for a bad `units`; calls after the attempt ended are dropped.
   * Works the same in every mode (it crosses the worker boundary as progress does).
   */
  charge(units: number, key?: string): void;
  /** Logs with `jobId`, `attempt` and `handler` bound; forwarded to the executor's logger. */
  readonly logger: Logger;
}

/** A named job function: `(payload, ctx) => output`, where output is a JSON value. */
export type Handler<P = never, O = unknown> = (payload: P, ctx: HandlerContext) => O | Promise<O>;

/** Handlers by name. Payload types are the handler's own business, so the map is loose. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a map of differently typed handlers
export type HandlerMap = Readonly<Record<string, Handler<any>>>;

/**
 * Typed identity helper for a handlers module. Export its result as `default` (or as a named
 * `handlers` export) so the thread and process executors can load it in their workers.
 *
 * @example
 * ```ts
 * // handlers.ts
 * export default defineHandlers({
 *   resize: async (payload: { w: number }, ctx) => {
 *     ctx.progress({ step: "start" });
 *     return { width: payload.w };
 *   },
 * });
 * ```
 */
export function defineHandlers<const M extends HandlerMap>(handlers: M): M {
  return handlers;
}

/**
 * A handlers module could not be imported or does not export a handler map (code
 * `HANDLERS_LOAD_FAILED`). The attempt fails without retry (the same code would fail again): a
 * `NonRetryableError` with a code of its own. The message names the module and the cause.
 */
export class HandlersLoadError extends NonRetryableError {
  override readonly code: ErrorCode = ErrorCode.HANDLERS_LOAD_FAILED;
  readonly modulePath: string;
  constructor(modulePath: string, reason: string, options?: PyrexisErrorOptions) {
    super(`handlers module ${modulePath} failed to load: ${reason}`, options);
    this.name = "HandlersLoadError";
    this.modulePath = modulePath;
  }
}

/** Turns a module path (absolute path, `file:` URL string or URL) into an importable href. */
export function toModuleHref(module: string | URL): string {
  if (module instanceof URL) return module.href;
  if (/^[a-z][a-z0-9+.-]*:/i.test(module) && !/^[a-z]:[\\/]/i.test(module)) return module;
  return pathToFileURL(module).href;
}

function isHandlerMap(value: unknown): value is HandlerMap {
  if (typeof value !== "object" || value === null) return false;
  return Object.values(value).every((v) => typeof v === "function");
}

/**
 * Imports a handlers module and returns its map: the default export, else a named `handlers`
 * export. Throws {@link HandlersLoadError} naming the module and why it failed (and, for a
 * TypeScript module Node could not load, how to fix that).
 *
 * @param importer - how to import it (worker threads under tsx pass tsx's `tsImport`).
 */
export async function loadHandlersModule(module: string | URL, importer: ModuleImporter = nativeImport): Promise<HandlerMap> {
  const href = toModuleHref(module);
  let ns: Record<string, unknown>;
  try {
    ns = (await importer(href)) as Record<string, unknown>;
  } catch (error) {
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    throw new HandlersLoadError(href, reason + typescriptHint(href, error), { cause: error });
  }
  if (isHandlerMap(ns.default)) return ns.default;
  if (isHandlerMap(ns.handlers)) return ns.handlers;
  throw new HandlersLoadError(
    href,
    "it exports neither a default handler map (export default defineHandlers({...})) nor a named `handlers` map",
  );
}
