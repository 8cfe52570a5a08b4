import type { JobLimit } from "@pyrexis/models";
import type { LimitOptions } from "@pyrexis/engine";
import { parseDuration } from "./duration.js";
import { UsageError } from "./errors.js";

// Flow control on the command line. The engine checks the values again (ranges, names); these
// parsers only turn the flags' text into its options, and name the flag in every error.
//
//   worker --limit openai=90000/1m,max=16   a rate of 90,000 units per minute and at most 16 at once
//   worker --limit gpu=max=4                 a concurrency cap only
//   worker --group-weight tenant-a=3,tenant-b=1
//   submit --use openai=1200 --group tenant-a

const INTEGER = /^[0-9]+$/;

function positiveInt(text: string, flag: string, what: string): number {
  const n = Number(text);
  if (!INTEGER.test(text) || !Number.isSafeInteger(n) || n < 1) {
    throw new UsageError(`${flag}: ${what} must be an integer >= 1, got "${text}"`, [{ path: [flag], message: `bad ${what}` }]);
  }
  return n;
}

/** Splits `name=rest` at the first `=`; names with `=` cannot be given on the command line. */
function named(text: string, flag: string, shape: string): [string, string] {
  const at = text.indexOf("=");
  const name = at < 0 ? "" : text.slice(0, at).trim();
  if (name === "") throw new UsageError(`${flag}: expected ${shape}, got "${text}"`, [{ path: [flag], message: "no name" }]);
  return [name, text.slice(at + 1).trim()];
}

/**
 * The engine's `limits` option from `--limit` flags (repeatable): `name=<units>/<duration>` for a
 * rate, `name=max=<n>` for a concurrency cap, or both joined by a comma
 * (`openai=90000/1m,max=16`). A name given twice is a usage error.
 */
export function parseLimitFlags(values: readonly string[] | undefined): Record<string, LimitOptions> | undefined {
  if (values === undefined || values.length === 0) return undefined;
  const flag = "--limit";
  const shape = "name=<units>/<duration>, name=max=<n> or both (openai=90000/1m,max=16)";
  const out: Record<string, LimitOptions> = {};
  for (const value of values) {
    const [name, spec] = named(value, flag, shape);
    if (Object.hasOwn(out, name)) throw new UsageError(`${flag}: limit "${name}" is given twice`, [{ path: [flag], message: "twice" }]);
    let rate: { units: number; perMs: number } | undefined;
    let maxConcurrent: number | undefined;
    for (const part of spec.split(",").map((p) => p.trim())) {
      if (part.startsWith("max=") && maxConcurrent === undefined) {
        maxConcurrent = positiveInt(part.slice(4), flag, `the max of "${name}"`);
      } else if (part.includes("/") && rate === undefined) {
        const [units = "", per = ""] = part.split("/");
        rate = { units: positiveInt(units, flag, `the units of "${name}"`), perMs: parseDuration(per, flag) };
      } else {
        throw new UsageError(`${flag}: expected ${shape}, got "${value}"`, [{ path: [flag], message: "bad limit" }]);
      }
    }
    out[name] = { ...(rate !== undefined ? { rate } : {}), ...(maxConcurrent !== undefined ? { maxConcurrent } : {}) };
  }
  return out;
}

/** The engine's `groupWeights` from `--group-weight name=weight` flags (repeatable, or a comma list). */
export function parseGroupWeightFlags(values: readonly string[] | undefined): Record<string, number> | undefined {
  if (values === undefined || values.length === 0) return undefined;
  const flag = "--group-weight";
  const out: Record<string, number> = {};
  for (const value of values.flatMap((v) => v.split(","))) {
    const [name, weight] = named(value.trim(), flag, "name=<weight> (tenant-a=3)");
    if (Object.hasOwn(out, name)) throw new UsageError(`${flag}: group "${name}" is given twice`, [{ path: [flag], message: "twice" }]);
    out[name] = positiveInt(weight, flag, `the weight of "${name}"`);
  }
  return out;
}

/**
 * A job's `limits` from `submit --limit key[:units]` (or `--use`) flags: repeatable, or a comma
 * list; `key:units` or `key=units`; one unit by default. `flag` is the flag named in errors.
 */
export function parseUseFlags(values: readonly string[] | undefined, flag = "--limit"): JobLimit[] | undefined {
  if (values === undefined || values.length === 0) return undefined;
  const shape = "key or key:<units> (openai:1200)";
  return values
    .flatMap((v) => v.split(","))
    .map((value) => {
      const text = value.trim();
      const at = text.search(/[:=]/);
      if (at < 0) {
        if (text === "") throw new UsageError(`${flag}: expected ${shape}, got "${value}"`);
        return { key: text, units: 1 };
      }
      const [key, units] = named(`${text.slice(0, at)}=${text.slice(at + 1)}`, flag, shape);
      return { key, units: positiveInt(units, flag, `the units of "${key}"`) };
    });
}
