// The schedules capability: MemoryJobStore passes its conformance group, and the group catches
// a store that lowers the last tick or overwrites a schedule, and one that does not declare it.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { describeSchedules, type TestApi } from "../src/conformance/index.js";
import { hasSchedules, MemoryJobStore, type JobStore, type PutScheduleOutcome, type ScheduleRecord } from "../src/index.js";
import { scheduleConflicts } from "../src/kit.js";

// One instance is what the engines of a process share: the second handle is the store itself.
describeSchedules(
  { describe, it, beforeEach, afterEach },
  { name: "MemoryJobStore", create: async () => new MemoryJobStore(), openSecond: async (store) => store },
);

/** Runs the group against `create` with a collecting test API; returns the titles of failing tests. */
async function failingTests(create: () => JobStore): Promise<string[]> {
  const tests: { name: string; fn: () => unknown }[] = [];
  const api: TestApi = { describe: (_name, fn) => fn(), it: (name, fn) => tests.push({ name, fn }) };
  describeSchedules(api, { name: "probe", create: async () => create(), openSecond: async (store) => store });
  const failed: string[] = [];
  for (const t of tests) {
    try {
      await t.fn();
    } catch {
      failed.push(t.name);
    }
  }
  return failed;
}

/** Sets the last tick to whatever it is given, lower or not. */
class TickLoweringStore extends MemoryJobStore {
  override async recordScheduleTick(name: string, tickAt: number): Promise<boolean> {
    const stored = await this.getSchedule(name);
    if (stored === undefined) return false;
    await this.deleteSchedule(name);
    await super.putSchedule({ ...stored, lastTickAt: tickAt });
    return true;
  }
}

/** Replaces a schedule of a taken name instead of refusing a different one. */
class OverwritingStore extends MemoryJobStore {
  override async putSchedule(record: ScheduleRecord): Promise<PutScheduleOutcome> {
    await this.deleteSchedule(record.name);
    return super.putSchedule(record);
  }
}

describe("describeSchedules", () => {
  it("fails a store that lowers the last tick or overwrites a schedule, and every test of a store without the capability", async () => {
    // It also deletes before it checks the tick, so a malformed tick loses the schedule.
    expect(await failingTests(() => new TickLoweringStore())).toEqual([
      "recordScheduleTick only raises lastTickAt and reports an unknown schedule",
      "malformed arguments reject with ValidationError and write nothing",
    ]);
    expect(await failingTests(() => new OverwritingStore())).toEqual([
      "an identical put writes nothing and returns the stored schedule",
      "a different definition under a taken name is a ScheduleConflictError naming the fields; nothing is written",
      "spec key order does not make a conflict",
      "schedules survive reopen (persistent stores) and are seen through a second handle (shared stores)",
      "malformed arguments reject with ValidationError and write nothing",
    ]);
    const plain = new MemoryJobStore();
    const undeclared = Object.assign(Object.create(plain) as MemoryJobStore, { capabilities: { persistent: false } });
    expect(hasSchedules(undeclared)).toBe(false);
    expect(await failingTests(() => undeclared)).toHaveLength(10);
  });

  it("scheduleConflicts compares definitions, not createdAt or lastTickAt", () => {
    const base = {
      name: "n",
      cron: "0 * * * *",
      timezone: "UTC",
      spec: { handler: "h", payload: null, priority: 5, mode: "async", maxAttempts: 3, backoff: { baseMs: 1, maxMs: 2, jitter: 0 } },
      catchUp: false,
      catchUpLimit: 10,
    };
    expect(scheduleConflicts(base, { ...base })).toEqual([]);
    expect(scheduleConflicts(base, { ...base, spec: { ...base.spec, payload: { a: 1 } }, timezone: "Europe/Paris" })).toEqual([
      "timezone",
      "spec",
    ]);
    // Specs compare as JSON: key order and keys holding `undefined` (a stored spec read back
    // from JSON has none) do not make a conflict; a missing or different field does.
    const reordered = {
      backoff: base.spec.backoff,
      maxAttempts: 3,
      mode: "async",
      priority: 5,
      payload: null,
      handler: "h",
      timeoutMs: undefined,
    };
    expect(scheduleConflicts(base, { ...base, spec: reordered })).toEqual([]);
    expect(scheduleConflicts(base, { ...base, spec: { ...base.spec, timeoutMs: 100 } })).toEqual(["spec"]);
    expect(scheduleConflicts(base, { ...base, spec: { ...base.spec, backoff: { baseMs: 1, maxMs: 2 } } as never })).toEqual(["spec"]);
  });
});
