import { CorruptRecordError, ScheduleConflictError, ValidationError, type JobSpec } from "@pyrexis/models";
import type { JobStore } from "./job-store.js";
import { sameJson } from "./json-equal.js";

// The schedules capability: cron schedules that survive restarts and are shared by every engine
// on a store. A store keeps each schedule's definition and the latest tick fired (what catch-up
// starts from); the tick jobs themselves are ordinary jobs with a deterministic id, so a
// duplicate insert is what keeps a tick to one job across engines. Parsing cron expressions is
// the engine's business: a store compares definitions, it never interprets them.

/** Longest schedule name. */
export const MAX_SCHEDULE_NAME_LENGTH = 128;

/** Schedule names: letters, digits and `_ . : -`, 1–128 characters (they become part of job ids). */
const NAME = /^[A-Za-z0-9_.:-]{1,128}$/;

/** The job every tick of a schedule submits: a normalized spec without `id`, `runAt` or `delayMs`. */
export type ScheduledJobSpec = Omit<JobSpec, "id" | "runAt" | "delayMs">;

/** What defines a schedule; two schedules of one name must agree on all of it. */
export interface ScheduleDefinition {
  /** Unique per store: letters, digits and `_ . : -`, 1–128 characters. */
  readonly name: string;
  /** A five-field cron expression (or a nickname such as `@daily`), checked by the engine. */
  readonly cron: string;
  /** The IANA timezone the expression is read in, e.g. `"America/New_York"` or `"UTC"`. */
  readonly timezone: string;
  /** The job each tick submits. */
  readonly spec: ScheduledJobSpec;
  /** Submit ticks missed while no engine ran (at most `catchUpLimit`, the latest ones). */
  readonly catchUp: boolean;
  /** Most missed ticks one catch-up submits, an integer 1–1000. */
  readonly catchUpLimit: number;
}

/** A stored schedule. */
export interface ScheduleRecord extends ScheduleDefinition {
  /** When the schedule was created, epoch ms: no tick before it is ever submitted. */
  readonly createdAt: number;
  /** The latest tick submitted, epoch ms; absent until the first one. */
  readonly lastTickAt?: number | undefined;
}

/** What {@link ScheduleMethods.putSchedule} did. */
export interface PutScheduleOutcome {
  /** True when this call created the schedule; false when an identical one was there. */
  readonly created: boolean;
  /** The stored schedule (the existing one, with its `createdAt` and `lastTickAt`, when not created). */
  readonly schedule: ScheduleRecord;
}

/**
 * The optional methods of a store that declares `capabilities.schedules`.
 *
 * Rules (checked by `describeSchedules` of `@pyrexis/storage/conformance`):
 * - `putSchedule` creates the schedule when its name is free. When the name is taken by a
 *   schedule with the same definition ({@link scheduleConflicts} finds no difference) it writes
 *   nothing and returns the stored one; with a different definition it rejects with
 *   `ScheduleConflictError` naming the fields and writes nothing. Concurrent puts of one name:
 *   exactly one creates.
 * - `recordScheduleTick` raises `lastTickAt` to `tickAt` and never lowers it (concurrent calls
 *   leave the largest); it resolves `false`, writing nothing, when the schedule does not exist.
 * - `deleteSchedule` resolves `true` when it removed the schedule, `false` when there was none.
 * - `listSchedules` returns every schedule in name order (code-unit order).
 * - Records round-trip exactly; returned records are copies or frozen.
 * - A malformed name or record rejects with `ValidationError`; after `close()` every method
 *   rejects with `StoreClosedError`.
 *
 * @example
 * ```ts
 * if (hasSchedules(store)) {
 *   const { created } = await store.putSchedule({ name: "nightly", cron: "0 3 * * *", timezone: "UTC", spec, catchUp: false, catchUpLimit: 10, createdAt: Date.now() });
 *   await store.recordScheduleTick("nightly", tickAt);
 *   console.log(await store.listSchedules());
 * }
 * ```
 */
export interface ScheduleMethods {
  /** Creates a schedule, or returns the identical one already stored; a different one rejects with `ScheduleConflictError`. */
  putSchedule(record: ScheduleRecord): Promise<PutScheduleOutcome>;
  /** The schedule of this name, or `undefined`. */
  getSchedule(name: string): Promise<ScheduleRecord | undefined>;
  /** Every schedule, in name order. */
  listSchedules(): Promise<ScheduleRecord[]>;
  /** Removes a schedule (its tick jobs stay); `true` when there was one. */
  deleteSchedule(name: string): Promise<boolean>;
  /** Raises `lastTickAt` to `tickAt` (never lowers it); `false` when there is no such schedule. */
  recordScheduleTick(name: string, tickAt: number): Promise<boolean>;
}

/** A store with the schedules capability. */
export type SchedulesJobStore = JobStore & ScheduleMethods;

/** True when `store` declares `capabilities.schedules` and has the methods. */
export function hasSchedules(store: JobStore): store is SchedulesJobStore {
  const s = store as Partial<ScheduleMethods>;
  return (
    store.capabilities.schedules === true &&
    typeof s.putSchedule === "function" &&
    typeof s.getSchedule === "function" &&
    typeof s.listSchedules === "function" &&
    typeof s.deleteSchedule === "function" &&
    typeof s.recordScheduleTick === "function"
  );
}

/** Throws `ValidationError` unless `name` is a valid schedule name. */
export function assertScheduleName(name: unknown): asserts name is string {
  if (typeof name !== "string" || !NAME.test(name)) {
    const shown = typeof name === "string" ? JSON.stringify(name.length > 40 ? `${name.slice(0, 40)}…` : name) : typeof name;
    throw new ValidationError(`invalid schedule name ${shown}: must be 1–${MAX_SCHEDULE_NAME_LENGTH} letters, digits or _ . : -`, [
      { path: ["name"], message: "must be 1–128 letters, digits or _ . : -" },
    ]);
  }
}

/** Throws `ValidationError` unless `tickAt` is epoch ms (an integer ≥ 0). */
export function assertTickTime(tickAt: unknown): asserts tickAt is number {
  if (typeof tickAt !== "number" || !Number.isSafeInteger(tickAt) || tickAt < 0) {
    throw new ValidationError(`invalid tick time: must be epoch ms (an integer >= 0), got ${String(tickAt)}`, [
      { path: ["tickAt"], message: "must be an integer >= 0" },
    ]);
  }
}

/**
 * The shape checks a store makes on a record given to `putSchedule` (the engine has validated
 * the cron expression, the timezone and the spec): `ValidationError` naming the field.
 */
export function checkScheduleRecord(record: unknown): asserts record is ScheduleRecord {
  if (typeof record !== "object" || record === null) throw new ValidationError("putSchedule expects a schedule record");
  const r = record as Record<string, unknown>;
  assertScheduleName(r.name);
  const bad = (field: string, message: string): never => {
    throw new ValidationError(`invalid schedule record: ${field} ${message}`, [{ path: [field], message }]);
  };
  for (const field of ["cron", "timezone"]) {
    const v = r[field];
    if (typeof v !== "string" || v.length === 0 || v.length > 256) bad(field, "must be a string of 1–256 characters");
  }
  if (typeof r.spec !== "object" || r.spec === null || Array.isArray(r.spec)) bad("spec", "must be a job spec object");
  if (typeof r.catchUp !== "boolean") bad("catchUp", "must be a boolean");
  const limit = r.catchUpLimit;
  if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 1 || limit > 1000) bad("catchUpLimit", "must be an integer 1–1000");
  const createdAt = r.createdAt;
  if (typeof createdAt !== "number" || !Number.isSafeInteger(createdAt) || createdAt < 0) bad("createdAt", "must be epoch ms");
  if (r.lastTickAt !== undefined) {
    const last = r.lastTickAt;
    if (typeof last !== "number" || !Number.isSafeInteger(last) || last < 0) bad("lastTickAt", "must be epoch ms when given");
  }
}

/** The definition fields in which `a` and `b` differ (empty when they define the same schedule). */
export function scheduleConflicts(a: ScheduleDefinition, b: ScheduleDefinition): string[] {
  const fields: string[] = [];
  if (a.cron !== b.cron) fields.push("cron");
  if (a.timezone !== b.timezone) fields.push("timezone");
  if (!sameJson(a.spec, b.spec)) fields.push("spec");
  if (a.catchUp !== b.catchUp) fields.push("catchUp");
  if (a.catchUpLimit !== b.catchUpLimit) fields.push("catchUpLimit");
  return fields;
}

/** Throws `ScheduleConflictError` when `stored` and `given` (of one name) differ. */
export function assertSameSchedule(stored: ScheduleDefinition, given: ScheduleDefinition): void {
  const fields = scheduleConflicts(stored, given);
  if (fields.length > 0) throw new ScheduleConflictError(given.name, fields);
}

/** A schedule row as the SQL stores keep it: the definition as JSON text beside its columns. */
export interface ScheduleRow {
  readonly name: string;
  readonly definition: unknown;
  readonly created_at: number;
  readonly last_tick_at: number | null;
}

type StoredDefinition = Omit<ScheduleDefinition, "name">;

/** The JSON text a store keeps for `record`'s definition (read back by {@link readScheduleRow}). */
export function scheduleDefinitionJson(record: ScheduleDefinition): string {
  const definition: StoredDefinition = {
    cron: record.cron,
    timezone: record.timezone,
    spec: record.spec,
    catchUp: record.catchUp,
    catchUpLimit: record.catchUpLimit,
  };
  return JSON.stringify(definition);
}

/** The record of a stored row; `CorruptRecordError` naming the schedule when its definition is not one. */
export function readScheduleRow(row: ScheduleRow): ScheduleRecord {
  let d: StoredDefinition;
  try {
    if (typeof row.definition !== "string") throw new TypeError("definition column is not text");
    d = JSON.parse(row.definition) as StoredDefinition;
    if (typeof d !== "object" || d === null || typeof d.cron !== "string") throw new TypeError("definition is not a schedule");
  } catch (e) {
    throw new CorruptRecordError(`schedule ${row.name}`, e instanceof Error ? e.message : String(e), { cause: e });
  }
  return {
    name: row.name,
    cron: d.cron,
    timezone: d.timezone,
    spec: d.spec,
    catchUp: d.catchUp,
    catchUpLimit: d.catchUpLimit,
    createdAt: row.created_at,
    ...(row.last_tick_at === null ? {} : { lastTickAt: row.last_tick_at }),
  };
}
