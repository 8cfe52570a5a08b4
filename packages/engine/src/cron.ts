// What the engine borrows from croner, in one place: parsing a five-field cron expression in an
// IANA timezone and stepping from one tick to the next. croner is used as a pure calculator
// (`paused`, no callback): the engine's Clock owns every timer. Each assumption the schedules make
// about it (DST gaps fire once after the gap, repeated hours once, nicknames, errors) has a test
// in test/cron.test.ts, and the dependency is pinned to the major those tests cover.
import { Cron } from "croner";
import { InvalidScheduleError } from "@pyrexis/models";

/** A parsed cron expression in a timezone: the instants (epoch ms) it fires at. */
export interface CronTicks {
  /** The expression as given. */
  readonly expression: string;
  /** The canonical IANA name of the timezone (e.g. `"UTC"` for `"utc"`). */
  readonly timezone: string;
  /** The first tick strictly after `after`, or `undefined` when there is none. */
  next(after: number): number | undefined;
  /** The ticks in `(after, until]`, oldest first, at most the latest `max` of them. */
  between(after: number, until: number, max: number): number[];
}

/**
 * The canonical name of an IANA timezone; `InvalidScheduleError` (field `timezone`) for one the
 * runtime does not know.
 */
export function canonicalTimezone(timezone: unknown): string {
  if (typeof timezone !== "string" || timezone.length === 0 || timezone.length > 64) {
    throw new InvalidScheduleError("timezone", String(timezone), "must be an IANA timezone name such as UTC or America/New_York");
  }
  try {
    return new Intl.DateTimeFormat("en-US", { timeZone: timezone }).resolvedOptions().timeZone;
  } catch (error) {
    throw new InvalidScheduleError("timezone", timezone, "not an IANA timezone this runtime knows (e.g. UTC, Europe/Paris)", {
      cause: error,
    });
  }
}

/**
 * Parses a five-field cron expression (minute hour day-of-month month day-of-week, or a nickname
 * such as `@daily`) in `timezone`. Throws `InvalidScheduleError` naming the field for a bad
 * expression, one that never fires, or an unknown timezone.
 */
export function parseCron(expression: unknown, timezone: unknown): CronTicks {
  const zone = canonicalTimezone(timezone);
  if (typeof expression !== "string" || expression.trim().length === 0 || expression.length > 256) {
    throw new InvalidScheduleError("cron", String(expression), "must be a five-field cron expression such as */5 * * * *");
  }
  let cron: Cron;
  try {
    cron = new Cron(expression, { timezone: zone, mode: "5-part", paused: true });
  } catch (error) {
    const reason = error instanceof Error ? error.message.replace(/^CronPattern:\s*/, "") : String(error);
    throw new InvalidScheduleError("cron", expression, reason, { cause: error });
  }
  const next = (after: number): number | undefined => cron.nextRun(new Date(after))?.getTime();
  if (next(0) === undefined) throw new InvalidScheduleError("cron", expression, "never matches a date");
  return {
    expression,
    timezone: zone,
    next,
    between(after, until, max) {
      const out: number[] = [];
      // Walk from `after`; only the latest `max` are kept, so a long gap costs time, not memory.
      // A minute-precision expression has at most 527,040 ticks a year; the walk is bounded by
      // starting no earlier than `max` ticks before `until` would need (see `startFor`).
      let at = startFor(cron, after, until, max);
      for (;;) {
        const tick = next(at);
        if (tick === undefined || tick > until) break;
        out.push(tick);
        if (out.length > max) out.shift();
        at = tick;
      }
      return out;
    },
  };
}

/**
 * Where to start walking for the latest `max` ticks in `(after, until]`: croner's `previousRuns`
 * gives the `max` ticks before `until` directly, so a schedule idle for a year does not walk a
 * year of minutes.
 */
function startFor(cron: Cron, after: number, until: number, max: number): number {
  const previous = cron.previousRuns(max, new Date(until + 1));
  const oldest = previous[previous.length - 1];
  if (previous.length < max || oldest === undefined) return after;
  // One ms before the oldest of the latest `max` ticks, but never before `after`.
  return Math.max(after, oldest.getTime() - 1);
}
