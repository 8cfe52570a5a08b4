import { UsageError } from "./errors.js";

// Durations on the command line (`--keep-completed 7d`, `--older-than 36h`). No duration library
// is a dependency of the CLI, and the grammar it needs is tiny, so it is parsed here, strictly:
// a positive integer and a unit, nothing else — `7d`, `36h`, `90m`, `30s`, `500ms`, `2w`. A bare
// number is refused (is `7` days or ms?), as are signs, decimals, spaces inside and unknown units.

/** Milliseconds per unit of {@link parseDuration}. */
const DURATION_UNITS: Readonly<Record<string, number>> = Object.freeze({
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
});

const PATTERN = /^([0-9]+)(ms|s|m|h|d|w)$/;

/**
 * Parses `<integer><unit>` (units `ms`, `s`, `m`, `h`, `d`, `w`) into milliseconds. Throws a
 * {@link UsageError} naming `flag` for anything else, for zero, and for a value beyond
 * `Number.MAX_SAFE_INTEGER` ms.
 */
export function parseDuration(text: string, flag: string): number {
  const match = PATTERN.exec(text.trim());
  if (match === null) {
    throw new UsageError(`${flag}: expected a duration like 7d, 36h, 90m, 30s or 500ms, got "${text}"`, [
      { path: [flag], message: "not a duration" },
    ]);
  }
  const ms = Number(match[1]) * (DURATION_UNITS[match[2]!] as number);
  if (!Number.isSafeInteger(ms)) throw new UsageError(`${flag}: duration "${text}" is too long`, [{ path: [flag], message: "too long" }]);
  if (ms === 0) throw new UsageError(`${flag}: duration must be more than zero, got "${text}"`, [{ path: [flag], message: "zero" }]);
  return ms;
}
