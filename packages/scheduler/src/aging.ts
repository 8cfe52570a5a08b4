import { MAX_PRIORITY, MIN_PRIORITY, ValidationError } from "@pyrexis/models";

/**
 * Default aging rate, in priority points per second of waiting. A priority-0 entry is
 * overtaken only by entries that became ready less than `(10 − 0) / 0.1 = 100` seconds after it.
 */
export const DEFAULT_AGING_RATE = 0.1;

function invalid(field: string, message: string, value: unknown): ValidationError {
  return new ValidationError(`${field} ${message}, got ${String(value)}`, [{ path: [field], message }]);
}

/** Throws a {@link ValidationError} unless `agingRate` is a finite number ≥ 0. */
export function assertAgingRate(agingRate: number): void {
  if (typeof agingRate !== "number" || !Number.isFinite(agingRate) || agingRate < 0) {
    throw invalid("agingRate", "must be a finite number >= 0", agingRate);
  }
}

/** Throws a {@link ValidationError} unless `priority` is an integer 0–10. */
export function assertPriority(priority: number): void {
  if (!Number.isInteger(priority) || priority < MIN_PRIORITY || priority > MAX_PRIORITY) {
    throw invalid("priority", `must be an integer ${MIN_PRIORITY}–${MAX_PRIORITY}`, priority);
  }
}

/** Throws a {@link ValidationError} unless `value` is a finite number; `field` names it. */
export function assertTimestamp(field: string, value: number): void {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw invalid(field, "must be a finite number (epoch ms)", value);
  }
}

/**
 * The time-invariant ordering key of an entry, in priority points: higher pops first.
 *
 * Every waiting entry ages at the same rate, so comparing effective priorities
 * `priority + agingRate · (now − readyAt) / 1000` at any `now` gives the same answer as comparing
 * `priority − agingRate · readyAt / 1000`. A store can therefore index this value once at insert
 * and claim in `ORDER BY key DESC, seq ASC` order, the same order as {@link PriorityScheduler}.
 *
 * @param priority - integer 0–10.
 * @param readyAtMs - epoch ms the entry became ready: `max(enqueuedAt, runAt)`.
 * @param agingRate - priority points per second of waiting (≥ 0).
 * @throws {@link ValidationError} on a bad argument.
 *
 * @example
 * ```ts
 * agingKey(0, 0, 0.1) === agingKey(10, 100_000, 0.1) // true: a tie, 100 s apart
 * ```
 */
export function agingKey(priority: number, readyAtMs: number, agingRate: number): number {
  assertPriority(priority);
  assertTimestamp("readyAtMs", readyAtMs);
  assertAgingRate(agingRate);
  return priority - agingRate * (readyAtMs / 1000);
}

/**
 * The same order as {@link agingKey}, scaled by `1000 / agingRate` into milliseconds of waiting:
 * `priority · 1000 / agingRate − readyAtMs` (or just `priority` when `agingRate` is 0).
 *
 * With integer-ms timestamps and a rate that divides 1000 evenly (0.1, 0.125, 0.5, 1, …) this is
 * exact integer arithmetic, so entries whose effective priorities are mathematically equal tie
 * exactly and the FIFO tie-break always applies. {@link PriorityScheduler} orders by this value;
 * prefer it over {@link agingKey} for a store index.
 *
 * @throws {@link ValidationError} on a bad argument.
 *
 * @example
 * ```ts
 * agingKeyMs(5, 1_000, 0.1) // 49_000: 5 points = 50 s of waiting
 * ```
 */
export function agingKeyMs(priority: number, readyAtMs: number, agingRate: number): number {
  assertPriority(priority);
  assertTimestamp("readyAtMs", readyAtMs);
  assertAgingRate(agingRate);
  return keyMs(priority, readyAtMs, scaleOf(agingRate));
}

/**
 * `1000 / agingRate`, or 0 when aging is off (or so slow that the scale overflows, in which case
 * aging could not change any order representable in a double anyway).
 * @internal
 */
export function scaleOf(agingRate: number): number {
  const scale = 1000 / agingRate;
  return Number.isFinite(scale) ? scale : 0;
}

/** The key for a precomputed scale (see {@link scaleOf}); no validation. @internal */
export function keyMs(priority: number, readyAtMs: number, scale: number): number {
  return scale === 0 ? priority : priority * scale - readyAtMs;
}

/**
 * The longest a ready entry of `priority` can be overtaken: only entries that become ready less
 * than `(10 − priority) / agingRate` seconds after it can pop before it. `Infinity` when
 * `agingRate` is 0 (pure priority order: a low priority can starve), 0 for priority 10.
 *
 * @throws {@link ValidationError} on a bad argument.
 *
 * @example
 * ```ts
 * starvationBoundSeconds(0, DEFAULT_AGING_RATE) // 100
 * ```
 */
export function starvationBoundSeconds(priority: number, agingRate: number): number {
  assertPriority(priority);
  assertAgingRate(agingRate);
  const points = MAX_PRIORITY - priority;
  if (points === 0) return 0;
  return agingRate === 0 ? Number.POSITIVE_INFINITY : points / agingRate;
}
