import type { SerializedError } from "./schemas.js";

/**
 * Turns anything thrown into a {@link SerializedError}: `name`, `message`, `code` (when the error
 * has a string code) and `stack`. Non-Errors (strings, objects, `undefined`) become
 * `{ name: "NonError", message: <their text> }`, so a thrown string still produces a useful result.
 */
export function serializeError(error: unknown): SerializedError {
  if (error instanceof Error || (typeof error === "object" && error !== null && "message" in error && "name" in error)) {
    const e = error as { name: unknown; message: unknown; code?: unknown; stack?: unknown };
    const out: SerializedError = { name: String(e.name), message: String(e.message) };
    if (typeof e.code === "string") out.code = e.code;
    else if (typeof e.code === "number") out.code = String(e.code);
    if (typeof e.stack === "string") out.stack = e.stack;
    return out;
  }
  return { name: "NonError", message: describeNonError(error) };
}

function describeNonError(value: unknown): string {
  if (typeof value === "string") return value;
  if (value === undefined) return "undefined was thrown";
  try {
    const json = JSON.stringify(value);
    if (json !== undefined) return json;
  } catch {
    // fall through to String()
  }
  try {
    // Only symbols, BigInts and cyclic objects get here; String() is the best text they have.
    // eslint-disable-next-line @typescript-eslint/no-base-to-string
    return String(value);
  } catch {
    // e.g. a cyclic object without a prototype: neither JSON nor String() can render it
    return Object.prototype.toString.call(value);
  }
}

/**
 * Rebuilds an `Error` from a {@link SerializedError} (e.g. one that crossed a thread), keeping
 * name, message, code and stack, so `isPyrexisError` and `code` checks keep working.
 */
export function deserializeError(data: SerializedError): Error & { code?: string } {
  const error = new Error(data.message) as Error & { code?: string };
  error.name = data.name;
  if (data.code !== undefined) error.code = data.code;
  if (data.stack !== undefined) error.stack = data.stack;
  return error;
}
