import type { PutScheduleOutcome, ScheduleRecord } from "./schedules.js";
import { assertSameSchedule, assertScheduleName, assertTickTime, checkScheduleRecord } from "./schedules.js";
import { deepFreeze } from "./store-kit.js";

/**
 * The schedules of a {@link MemoryJobStore}: a map by name of frozen copies. Kept apart from the
 * job records because nothing else in the store touches them; the store checks it is open and
 * delegates here.
 */
export class MemorySchedules {
  readonly #byName = new Map<string, ScheduleRecord>();

  put(record: ScheduleRecord): PutScheduleOutcome {
    checkScheduleRecord(record);
    const stored = this.#byName.get(record.name);
    if (stored !== undefined) {
      assertSameSchedule(stored, record);
      return { created: false, schedule: stored };
    }
    const { lastTickAt, ...definition } = structuredClone(record);
    // An absent `lastTickAt` stays absent (no key holding `undefined`).
    const copy = deepFreeze(lastTickAt === undefined ? definition : { ...definition, lastTickAt });
    this.#byName.set(copy.name, copy);
    return { created: true, schedule: copy };
  }

  get(name: string): ScheduleRecord | undefined {
    assertScheduleName(name);
    return this.#byName.get(name);
  }

  list(): ScheduleRecord[] {
    return [...this.#byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  delete(name: string): boolean {
    assertScheduleName(name);
    return this.#byName.delete(name);
  }

  recordTick(name: string, tickAt: number): boolean {
    assertScheduleName(name);
    assertTickTime(tickAt);
    const stored = this.#byName.get(name);
    if (stored === undefined) return false;
    if (stored.lastTickAt === undefined || tickAt > stored.lastTickAt) {
      this.#byName.set(name, deepFreeze({ ...stored, lastTickAt: tickAt }));
    }
    return true;
  }
}
