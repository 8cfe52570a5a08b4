// Named limits on the engine (`limits: { openai: { rate: { units, perMs }, maxConcurrent } }`):
// their options, checked once at construction, and the check of a job's `limits` at submit.
import { LimitCapacityError, MAX_LIMIT_UNITS, UnknownLimitError, ValidationError, type JobLimit } from "@pyrexis/models";

/** A rate: at most `units` units in any window of `perMs` milliseconds. */
export interface RateOptions {
  /** Units per window (e.g. tokens per minute), a positive integer. */
  readonly units: number;
  /** Window length in ms, a positive integer (e.g. 60000). */
  readonly perMs: number;
}

/** One named limit: a rate, a concurrency cap, or both. */
export interface LimitOptions {
  /** No window of `perMs` ever starts jobs whose weights add up to more than `units`. */
  readonly rate?: RateOptions | undefined;
  /** At most this many jobs that use the limit run at once, in this engine. */
  readonly maxConcurrent?: number | undefined;
}

/** The engine's named limits, by key. */
export type LimitsOptions = Readonly<Record<string, LimitOptions>>;

/** A checked limit. */
export interface LimitSettings {
  readonly key: string;
  readonly rate: Readonly<RateOptions> | undefined;
  readonly maxConcurrent: number | undefined;
}

/** Longest rate window: 31 days. */
export const MAX_LIMIT_WINDOW_MS: number = 31 * 86_400_000;
/** Largest `maxConcurrent`. */
export const MAX_LIMIT_CONCURRENCY = 1_000_000;

function invalid(path: (string | number)[], message: string): ValidationError {
  return new ValidationError(`invalid engine option: ${path.join(".")} ${message}`, [{ path, message }]);
}

function checkInt(value: unknown, path: (string | number)[], max: number): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1 || value > max) {
    throw invalid(path, `must be an integer 1–${max}, got ${typeof value === "number" ? value : typeof value}`);
  }
  return value;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Checks the `limits` engine option; throws `ValidationError` naming the bad field. */
export function resolveLimits(options: unknown): ReadonlyMap<string, LimitSettings> {
  const out = new Map<string, LimitSettings>();
  if (options === undefined) return out;
  if (!isRecord(options)) throw invalid(["limits"], "must be an object of limit name → { rate?, maxConcurrent? }");
  for (const [key, limit] of Object.entries(options)) {
    const path = ["limits", key];
    // eslint-disable-next-line no-control-regex -- matching control characters is the point
    if (key.length === 0 || key.length > 128 || /[\u0000-\u001f\u007f]/.test(key)) {
      throw invalid(path, "must be a name of 1–128 characters without control characters");
    }
    if (!isRecord(limit)) throw invalid(path, "must be an object { rate?, maxConcurrent? }");
    for (const field of Object.keys(limit)) {
      if (field !== "rate" && field !== "maxConcurrent") throw invalid([...path, field], "is not a limit option (rate, maxConcurrent)");
    }
    let rate: RateOptions | undefined;
    if (limit.rate !== undefined) {
      if (!isRecord(limit.rate)) throw invalid([...path, "rate"], "must be an object { units, perMs }");
      for (const field of Object.keys(limit.rate)) {
        if (field !== "units" && field !== "perMs") throw invalid([...path, "rate", field], "is not a rate option (units, perMs)");
      }
      rate = Object.freeze({
        units: checkInt(limit.rate.units, [...path, "rate", "units"], MAX_LIMIT_UNITS),
        perMs: checkInt(limit.rate.perMs, [...path, "rate", "perMs"], MAX_LIMIT_WINDOW_MS),
      });
    }
    const maxConcurrent =
      limit.maxConcurrent === undefined ? undefined : checkInt(limit.maxConcurrent, [...path, "maxConcurrent"], MAX_LIMIT_CONCURRENCY);
    if (rate === undefined && maxConcurrent === undefined) throw invalid(path, "must set rate, maxConcurrent or both");
    out.set(key, Object.freeze({ key, rate, maxConcurrent }));
  }
  return out;
}

/**
 * Checks a job's `limits` against the engine's: `UnknownLimitError` for a key the engine does not
 * have, `LimitCapacityError` for a weight above the limit's rate capacity (it could never start).
 * `at` is the path prefix of the job in a batch, for the error's issue path.
 */
export function checkJobLimits(limits: readonly JobLimit[] | undefined, settings: ReadonlyMap<string, LimitSettings>): void {
  if (limits === undefined) return;
  for (let i = 0; i < limits.length; i++) {
    const { key, units } = limits[i] as JobLimit;
    const limit = settings.get(key);
    if (limit === undefined) throw new UnknownLimitError(key, [...settings.keys()], ["limits", i, "key"]);
    if (limit.rate !== undefined && units > limit.rate.units)
      throw new LimitCapacityError(key, units, limit.rate.units, ["limits", i, "units"]);
  }
}
