import assert from "node:assert/strict";
import { DEFAULT_BACKOFF } from "@pyrexis/models";
import type { JobStore } from "../job-store.js";
import { hasSchedules, type ScheduleRecord, type SchedulesJobStore } from "../schedules.js";
import { BASE_TIME } from "./data.js";
import { rejectsWith, storeTest, type JobStoreFactory, type TestApi } from "./harness.js";

// The schedules capability, for stores that declare it: call `describeSchedules` explicitly
// (it is not part of `describeJobStore`, which every store must pass).

function withSchedules(store: JobStore): SchedulesJobStore {
  assert.equal(store.capabilities.schedules, true, "the store must declare capabilities.schedules");
  assert.ok(
    hasSchedules(store),
    "a store that declares schedules must have putSchedule/getSchedule/listSchedules/deleteSchedule/recordScheduleTick",
  );
  return store;
}

/** A schedule record for the tests; `overrides` replace fields. */
function schedule(name: string, overrides: Partial<ScheduleRecord> = {}): ScheduleRecord {
  return {
    name,
    cron: "*/5 * * * *",
    timezone: "America/New_York",
    spec: {
      handler: "reindex",
      payload: { corpus: "docs", tags: ["a", "ü"] },
      priority: 5,
      mode: "async",
      maxAttempts: 3,
      backoff: DEFAULT_BACKOFF,
    },
    catchUp: false,
    catchUpLimit: 10,
    createdAt: BASE_TIME,
    ...overrides,
  };
}

/**
 * `putSchedule` (create, identical again, conflicts naming fields, nothing written on conflict),
 * `getSchedule`/`listSchedules` round trips in name order, `recordScheduleTick` (only upwards,
 * `false` for an unknown schedule), `deleteSchedule`, concurrent puts and ticks, persistence
 * across reopen and visibility through a second handle when the store declares them, argument
 * checks and `StoreClosedError` after close.
 */
export function schedules(api: TestApi, factory: JobStoreFactory, seed: number): void {
  const t = (title: string, body: Parameters<typeof storeTest>[4]): void => storeTest(api, factory, seed, title, body);
  api.describe("schedules", () => {
    t("creates a schedule and reads it back exactly, in name order", async ({ store }) => {
      const s = withSchedules(store);
      assert.deepEqual(await s.listSchedules(), []);
      const b = schedule("b-hourly", { cron: "0 * * * *", timezone: "UTC", catchUp: true, catchUpLimit: 1000 });
      const a = schedule("a.nightly:v2", { spec: { ...schedule("x").spec, timeoutMs: 5000 }, lastTickAt: BASE_TIME + 60_000 });
      const putB = await s.putSchedule(b);
      assert.equal(putB.created, true);
      assert.deepEqual(putB.schedule, b);
      assert.equal((await s.putSchedule(a)).created, true);
      assert.deepEqual(await s.getSchedule("b-hourly"), b);
      assert.deepEqual(await s.getSchedule("a.nightly:v2"), a);
      assert.equal(await s.getSchedule("missing"), undefined);
      assert.deepEqual(await s.listSchedules(), [a, b]);
      const got = (await s.getSchedule("b-hourly")) as ScheduleRecord;
      assert.equal("lastTickAt" in got, false, "an absent lastTickAt stays absent");
    });

    t("an identical put writes nothing and returns the stored schedule", async ({ store }) => {
      const s = withSchedules(store);
      await s.putSchedule(schedule("nightly"));
      assert.equal(await s.recordScheduleTick("nightly", BASE_TIME + 300_000), true);
      // A later createdAt is not part of the definition: the stored schedule is kept as it is.
      const again = await s.putSchedule(schedule("nightly", { createdAt: BASE_TIME + 999_000 }));
      assert.equal(again.created, false);
      assert.deepEqual(again.schedule, schedule("nightly", { lastTickAt: BASE_TIME + 300_000 }));
      assert.deepEqual(await s.getSchedule("nightly"), schedule("nightly", { lastTickAt: BASE_TIME + 300_000 }));
    });

    t("a different definition under a taken name is a ScheduleConflictError naming the fields; nothing is written", async ({ store }) => {
      const s = withSchedules(store);
      const original = schedule("nightly");
      await s.putSchedule(original);
      const cases: [Partial<ScheduleRecord>, string[]][] = [
        [{ cron: "0 3 * * *" }, ["cron"]],
        [{ timezone: "UTC" }, ["timezone"]],
        [{ spec: { ...original.spec, payload: { corpus: "other" } } }, ["spec"]],
        [{ spec: { ...original.spec, priority: 9 } }, ["spec"]],
        [{ catchUp: true }, ["catchUp"]],
        [{ catchUpLimit: 3 }, ["catchUpLimit"]],
        [{ cron: "@daily", catchUp: true }, ["cron", "catchUp"]],
      ];
      for (const [change, fields] of cases) {
        const e = await rejectsWith(
          s.putSchedule(schedule("nightly", change)),
          "ScheduleConflictError",
          "SCHEDULE_CONFLICT",
          JSON.stringify(change),
        );
        assert.equal(e.scheduleName, "nightly");
        assert.deepEqual(e.fields, fields);
      }
      assert.deepEqual(await s.listSchedules(), [original]);
    });

    t("spec key order does not make a conflict", async ({ store }) => {
      const s = withSchedules(store);
      await s.putSchedule(schedule("nightly"));
      const { spec } = schedule("nightly");
      const reordered = {
        backoff: spec.backoff,
        maxAttempts: spec.maxAttempts,
        mode: spec.mode,
        priority: spec.priority,
        payload: { tags: ["a", "ü"], corpus: "docs" },
        handler: spec.handler,
      };
      assert.equal((await s.putSchedule(schedule("nightly", { spec: reordered }))).created, false);
    });

    t("recordScheduleTick only raises lastTickAt and reports an unknown schedule", async ({ store }) => {
      const s = withSchedules(store);
      await s.putSchedule(schedule("every-5"));
      assert.equal(await s.recordScheduleTick("every-5", BASE_TIME + 600_000), true);
      assert.equal((await s.getSchedule("every-5"))?.lastTickAt, BASE_TIME + 600_000);
      assert.equal(await s.recordScheduleTick("every-5", BASE_TIME + 300_000), true, "an older tick is accepted but changes nothing");
      assert.equal((await s.getSchedule("every-5"))?.lastTickAt, BASE_TIME + 600_000);
      assert.equal(await s.recordScheduleTick("other", BASE_TIME), false);
      assert.equal(await s.getSchedule("other"), undefined, "a tick of an unknown schedule creates nothing");
      // Concurrent ticks leave the largest.
      const ticks = [7, 3, 9, 1, 8].map((k) => BASE_TIME + k * 3_600_000);
      await Promise.all(ticks.map((tick) => s.recordScheduleTick("every-5", tick)));
      assert.equal((await s.getSchedule("every-5"))?.lastTickAt, BASE_TIME + 9 * 3_600_000);
    });

    t("deleteSchedule removes one schedule; a new one of that name starts afresh", async ({ store }) => {
      const s = withSchedules(store);
      await s.putSchedule(schedule("a"));
      await s.putSchedule(schedule("b"));
      await s.recordScheduleTick("a", BASE_TIME + 1000);
      assert.equal(await s.deleteSchedule("a"), true);
      assert.equal(await s.deleteSchedule("a"), false);
      assert.equal(await s.getSchedule("a"), undefined);
      assert.deepEqual(await s.listSchedules(), [schedule("b")]);
      assert.equal(await s.recordScheduleTick("a", BASE_TIME + 2000), false);
      const fresh = schedule("a", { cron: "0 0 * * *", createdAt: BASE_TIME + 5000 });
      assert.equal((await s.putSchedule(fresh)).created, true, "a removed name may be defined anew, differently");
      assert.deepEqual(await s.getSchedule("a"), fresh);
    });

    t("concurrent puts of one name: exactly one creates", async ({ store }) => {
      const s = withSchedules(store);
      const outcomes = await Promise.allSettled([0, 1, 2, 3, 4].map(() => s.putSchedule(schedule("race"))));
      const created = outcomes.filter((o) => o.status === "fulfilled" && o.value.created).length;
      assert.equal(created, 1);
      assert.ok(
        outcomes.every((o) => o.status === "fulfilled"),
        "identical concurrent puts all succeed",
      );
      const mixed = await Promise.allSettled([schedule("mixed"), schedule("mixed", { cron: "1 * * * *" })].map((r) => s.putSchedule(r)));
      assert.equal(mixed.filter((o) => o.status === "fulfilled").length, 1, "of two different definitions one wins");
      assert.equal(mixed.filter((o) => o.status === "rejected" && (o.reason as { code?: string }).code === "SCHEDULE_CONFLICT").length, 1);
    });

    t("schedules survive reopen (persistent stores) and are seen through a second handle (shared stores)", async (h) => {
      let s = withSchedules(h.store);
      await s.putSchedule(schedule("kept"));
      await s.recordScheduleTick("kept", BASE_TIME + 42_000);
      if (h.store.capabilities.shared === true) {
        const second = withSchedules(await h.openSecond(h.store));
        assert.deepEqual(await second.getSchedule("kept"), schedule("kept", { lastTickAt: BASE_TIME + 42_000 }));
        await second.recordScheduleTick("kept", BASE_TIME + 43_000);
        await rejectsWith(second.putSchedule(schedule("kept", { cron: "0 0 * * *" })), "ScheduleConflictError", "SCHEDULE_CONFLICT");
        assert.equal((await s.getSchedule("kept"))?.lastTickAt, BASE_TIME + 43_000);
      }
      if (h.store.capabilities.persistent === true) {
        s = withSchedules(await h.reopen(h.store));
        assert.equal((await s.getSchedule("kept"))?.cron, "*/5 * * * *");
        assert.ok(((await s.getSchedule("kept"))?.lastTickAt ?? 0) >= BASE_TIME + 42_000);
      }
    });

    t("malformed arguments reject with ValidationError and write nothing", async ({ store }) => {
      const s = withSchedules(store);
      const bad = async (promise: Promise<unknown>, what: string): Promise<void> => {
        await rejectsWith(promise, "ValidationError", "VALIDATION", what);
      };
      for (const name of ["", "has space", "a/b", "x".repeat(129), 42, undefined]) {
        await bad(s.getSchedule(name as string), `getSchedule(${String(name)})`);
        await bad(s.deleteSchedule(name as string), `deleteSchedule(${String(name)})`);
        await bad(s.recordScheduleTick(name as string, BASE_TIME), `recordScheduleTick(${String(name)})`);
        await bad(s.putSchedule(schedule(name as string)), `putSchedule name ${String(name)}`);
      }
      await s.putSchedule(schedule("ok"));
      for (const tick of [-1, 1.5, Number.NaN, "1" as unknown as number])
        await bad(s.recordScheduleTick("ok", tick), `tick ${String(tick)}`);
      const records: unknown[] = [
        null,
        "nightly",
        schedule("r1", { cron: "" }),
        schedule("r2", { timezone: 7 as unknown as string }),
        schedule("r3", { spec: null as unknown as ScheduleRecord["spec"] }),
        schedule("r4", { catchUp: "yes" as unknown as boolean }),
        schedule("r5", { catchUpLimit: 0 }),
        schedule("r6", { catchUpLimit: 1001 }),
        schedule("r7", { createdAt: -5 }),
        schedule("r8", { lastTickAt: 2.5 }),
      ];
      for (const record of records) await bad(s.putSchedule(record as ScheduleRecord), `putSchedule ${JSON.stringify(record)}`);
      assert.deepEqual(await s.listSchedules(), [schedule("ok")]);
      assert.equal((await s.getSchedule("ok"))?.lastTickAt, undefined);
    });

    t("after close every schedule method rejects with StoreClosedError", async ({ store }) => {
      const s = withSchedules(store);
      await s.close();
      await rejectsWith(s.putSchedule(schedule("x")), "StoreClosedError", "STORE_CLOSED", "putSchedule");
      await rejectsWith(s.getSchedule("x"), "StoreClosedError", "STORE_CLOSED", "getSchedule");
      await rejectsWith(s.listSchedules(), "StoreClosedError", "STORE_CLOSED", "listSchedules");
      await rejectsWith(s.deleteSchedule("x"), "StoreClosedError", "STORE_CLOSED", "deleteSchedule");
      await rejectsWith(s.recordScheduleTick("x", 1), "StoreClosedError", "STORE_CLOSED", "recordScheduleTick");
    });
  });
}
