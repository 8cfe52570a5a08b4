import { UsageError } from "./errors.js";

/** Repeated and comma-separated values of a list flag, or `undefined` when none was given. */
export function splitList(values: readonly string[] | undefined, flag: string): string[] | undefined {
  if (values === undefined) return undefined;
  const out = [...new Set(values.flatMap((v) => v.split(",")).map((v) => v.trim()))];
  if (out.some((v) => v === "")) throw new UsageError(`${flag}: empty value`);
  return out;
}
