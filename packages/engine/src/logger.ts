/**
 * A structured logger, compatible with pino (and console-like loggers): each method takes an
 * object of fields and/or a message. Pyrexis is silent unless you pass one.
 *
 * @example
 * ```ts
 * import pino from "pino";
 * const engine = await createEngine({ handlers, logger: pino() });
 * ```
 */
export interface Logger {
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
}

const noop = (): void => {};

/** The default logger: discards everything. */
export const silentLogger: Logger = Object.freeze({ debug: noop, info: noop, warn: noop, error: noop });
