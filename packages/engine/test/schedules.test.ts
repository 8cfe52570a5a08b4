// Cron schedules on fake time: a tick fires at its instant, DST days in a timezone, restarts
// between ticks, catch-up on and off, many engines racing for one tick (one MemoryJobStore
// instance, one SQLite file), removal, and bad input. No sleeps: a ManualClock moves time, and
// `settle` lets the store calls started by a step finish.
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock, isPyrexisError, type Job } from "@pyrexis/models";
import { MemoryJobStore, type JobStore } from "@pyrexis/storage";
import { SqliteJobStore } from "@pyrexis/storage-sqlite";
import { buildScheduleRecord, tickJobId, type Engine } from "../src/index.js";
import { engineWith, FlakyStore, tempDir, until } from "./helpers.js";

const T0 = Date.parse("2026-01-05T10:01:00.000Z");
const MIN = 60_000;
const at = (s: string): number => Date.parse(s);

async function settle(rounds = 30): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((r) => setImmediate(r));
}

/** Moves the clock to `target` in steps of `stepMs`, letting each step's work finish. */
async function stepTo(clock: ManualClock, target: number, stepMs: number): Promise<void> {
  while (clock.now() < target) {
    clock.advance(Math.min(stepMs, target - clock.now()));
    await settle();
  }
}

/** Jobs of a schedule in the store, by tick id. */
async function tickJobs(store: JobStore, name: string): Promise<Job[]> {
  const out: Job[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listJobs({ limit: 1000, cursor });
    out.push(...page.jobs.filter((j) => j.id.startsWith(`schedule:${name}:`)));
    cursor = page.cursor;
  } while (cursor !== undefined);
  return out.sort((a, b) => a.runAt - b.runAt);
}

const iso = (jobs: readonly Job[]): string[] => jobs.map((j) => new Date(j.runAt).toISOString());

interface Running {
  engine: Engine;
  loop: Promise<void>;
  ran: string[];
  errors: unknown[];
  ticks: { name: string; tickAt: number; submitted: boolean }[];
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/**
 * An engine on `store` whose `work` handler records the job ids it ran; its loop runs until the
 * test ends. Its lease (an hour) is longer than any clock step, so no lease expires under a tick
 * job whose end is still being written when the clock moves on.
 */
function start(store: JobStore, clock: ManualClock, options: { loop?: boolean } = {}): Running {
  const ran: string[] = [];
  const engine = engineWith({ work: (_p, ctx) => void ran.push(ctx.jobId) }, { store, clock, closeStore: false, leaseMs: 3_600_000 });
  const errors: unknown[] = [];
  const ticks: Running["ticks"] = [];
  engine.on("engine:error", ({ error }) => errors.push(error));
  engine.on("schedule:tick", ({ name, tickAt, submitted }) => ticks.push({ name, tickAt, submitted }));
  const loop = options.loop === false ? Promise.resolve() : engine.runLoop();
  cleanups.push(async () => {
    await engine.shutdown({ graceMs: 0 });
    await loop;
  });
  return { engine, loop, ran, errors, ticks };
}

describe("engine.schedule", () => {
  it("submits one job at the tick's instant, with the tick's id and runAt, and runs it", async () => {
    const clock = new ManualClock(T0);
    const store = new MemoryJobStore({ clock });
    const w = start(store, clock);
    const info = await w.engine.schedule("every-5", { cron: "*/5 * * * *", spec: { handler: "work", payload: { n: 1 } } });
    expect(info).toMatchObject({ name: "every-5", cron: "*/5 * * * *", timezone: "UTC", catchUp: false, catchUpLimit: 10, createdAt: T0 });
    expect(info.nextTickAt).toBe(at("2026-01-05T10:05:00.000Z"));
    await settle();
    await stepTo(clock, at("2026-01-05T10:04:59.999Z"), MIN);
    expect(await tickJobs(store, "every-5")).toEqual([]);
    clock.advance(1);
    const id = tickJobId("every-5", at("2026-01-05T10:05:00.000Z"));
    expect(id).toBe("schedule:every-5:2026-01-05T10:05:00.000Z");
    await until(async () => (await store.getJob(id))?.status === "completed", "the tick's job completed");
    expect(await store.getJob(id)).toMatchObject({
      handler: "work",
      payload: { n: 1 },
      runAt: at("2026-01-05T10:05:00.000Z"),
      attempts: 1,
    });
    expect(w.ran).toEqual([id]);
    expect((await store.getSchedule("every-5"))?.lastTickAt).toBe(at("2026-01-05T10:05:00.000Z"));
    expect(w.ticks).toEqual([{ name: "every-5", tickAt: at("2026-01-05T10:05:00.000Z"), submitted: true }]);
    expect(w.errors).toEqual([]);
  });

  it("America/New_York spring-forward: a daily 02:30 job runs exactly once each day, at 03:00 EDT on the day 02:30 does not exist", async () => {
    const clock = new ManualClock(at("2026-03-07T00:00:00.000Z"));
    const store = new MemoryJobStore({ clock });
    const w = start(store, clock);
    await w.engine.schedule("spring", { cron: "30 2 * * *", timezone: "America/New_York", spec: { handler: "work" } });
    await stepTo(clock, at("2026-03-10T00:00:00.000Z"), 20 * MIN);
    await until(() => w.ran.length === 3, "three runs");
    expect(iso(await tickJobs(store, "spring"))).toEqual([
      "2026-03-07T07:30:00.000Z",
      "2026-03-08T07:00:00.000Z",
      "2026-03-09T06:30:00.000Z",
    ]);
    expect(w.ticks.every((t) => t.submitted)).toBe(true);
    expect(w.errors).toEqual([]);
  });

  it("America/New_York fall-back: a daily 01:30 job runs exactly once on the day 01:30 happens twice", async () => {
    const clock = new ManualClock(at("2026-10-31T00:00:00.000Z"));
    const store = new MemoryJobStore({ clock });
    const w = start(store, clock);
    await w.engine.schedule("fall", { cron: "30 1 * * *", timezone: "America/New_York", spec: { handler: "work" } });
    await stepTo(clock, at("2026-11-03T00:00:00.000Z"), 20 * MIN);
    await until(() => w.ran.length === 3, "three runs");
    expect(iso(await tickJobs(store, "fall"))).toEqual([
      "2026-10-31T05:30:00.000Z",
      "2026-11-01T05:30:00.000Z",
      "2026-11-02T06:30:00.000Z",
    ]);
    expect(w.ticks).toHaveLength(3);
  });

  it("a restart between ticks (SQLite file) neither repeats nor loses a tick", async () => {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const path = join(tmp.dir, "jobs.db");
    const clock = new ManualClock(T0);
    const first = await SqliteJobStore.open({ path }, { clock });
    cleanups.push(() => first.close());
    const a = start(first, clock);
    await a.engine.schedule("every-5", { cron: "*/5 * * * *", spec: { handler: "work" } });
    await stepTo(clock, at("2026-01-05T10:07:00.000Z"), MIN);
    await until(() => a.ran.length === 1, "first tick ran");
    await a.engine.shutdown();
    await a.loop;
    // The second process starts before the next tick.
    const second = await SqliteJobStore.open({ path }, { clock });
    cleanups.push(() => second.close());
    const b = start(second, clock);
    await settle();
    await stepTo(clock, at("2026-01-05T10:16:00.000Z"), MIN);
    await until(() => b.ran.length === 2, "two ticks ran after the restart");
    expect(iso(await tickJobs(second, "every-5"))).toEqual([
      "2026-01-05T10:05:00.000Z",
      "2026-01-05T10:10:00.000Z",
      "2026-01-05T10:15:00.000Z",
    ]);
    expect([...a.ran, ...b.ran].sort()).toEqual((await tickJobs(second, "every-5")).map((j) => j.id).sort());
    expect([...a.errors, ...b.errors]).toEqual([]);
  });

  it("a tick whose job was written but whose lastTickAt was not (a crash between the two) is not submitted again", async () => {
    const clock = new ManualClock(T0);
    const store = new MemoryJobStore({ clock });
    const definer = start(store, clock, { loop: false });
    await definer.engine.schedule("every-5", { cron: "*/5 * * * *", spec: { handler: "work" }, catchUp: true });
    // The crashed engine's insert of the 10:05 tick, without the tick record.
    clock.set(at("2026-01-05T10:05:00.000Z"));
    await definer.engine.submitJob({ handler: "work", id: tickJobId("every-5", clock.now()), runAt: clock.now() });
    clock.set(at("2026-01-05T10:06:00.000Z"));
    const w = start(store, clock);
    await until(() => w.ticks.length === 1, "the missed tick handled");
    expect(w.ticks).toEqual([{ name: "every-5", tickAt: at("2026-01-05T10:05:00.000Z"), submitted: false }]);
    expect((await store.getSchedule("every-5"))?.lastTickAt).toBe(at("2026-01-05T10:05:00.000Z"));
    expect(await tickJobs(store, "every-5")).toHaveLength(1);
  });

  it("catch-up: ticks missed while no engine ran are submitted, the latest catchUpLimit of them; without it, none", async () => {
    const clock = new ManualClock(T0);
    const store = new MemoryJobStore({ clock });
    const definer = start(store, clock, { loop: false });
    await definer.engine.schedule("with", { cron: "*/5 * * * *", spec: { handler: "work" }, catchUp: true, catchUpLimit: 3 });
    await definer.engine.schedule("without", { cron: "*/5 * * * *", spec: { handler: "work" } });
    // Nothing runs for half an hour: ticks 10:05 … 10:30 are missed.
    clock.set(at("2026-01-05T10:31:00.000Z"));
    const w = start(store, clock);
    await until(() => w.ran.length === 3, "three caught-up runs");
    expect(iso(await tickJobs(store, "with"))).toEqual([
      "2026-01-05T10:20:00.000Z",
      "2026-01-05T10:25:00.000Z",
      "2026-01-05T10:30:00.000Z",
    ]);
    expect(await tickJobs(store, "without")).toEqual([]);
    await stepTo(clock, at("2026-01-05T10:36:00.000Z"), MIN);
    await until(() => w.ran.length === 5, "the next tick of both");
    expect(iso(await tickJobs(store, "without"))).toEqual(["2026-01-05T10:35:00.000Z"]);
    expect(iso(await tickJobs(store, "with")).at(-1)).toBe("2026-01-05T10:35:00.000Z");
  });

  it("5 engines on one MemoryJobStore instance race for each tick: exactly one job per tick, run once, no engine error", async () => {
    const clock = new ManualClock(T0);
    const store = new MemoryJobStore({ clock });
    const engines = Array.from({ length: 5 }, () => start(store, clock));
    await engines[2]!.engine.schedule("race", { cron: "* * * * *", spec: { handler: "work" } });
    await settle();
    await stepTo(clock, T0 + 3 * MIN, 30_000);
    const ran = (): string[] => engines.flatMap((e) => e.ran);
    await until(() => ran().length === 3, "three runs");
    await settle();
    const jobs = await tickJobs(store, "race");
    expect(iso(jobs)).toEqual(["2026-01-05T10:02:00.000Z", "2026-01-05T10:03:00.000Z", "2026-01-05T10:04:00.000Z"]);
    expect(ran().sort()).toEqual(jobs.map((j) => j.id).sort());
    const submitted = engines.flatMap((e) => e.ticks.filter((t) => t.submitted));
    expect(submitted).toHaveLength(3);
    expect(engines.flatMap((e) => e.errors)).toEqual([]);
  });

  it("5 engines on one SQLite file (5 connections) race for each tick: exactly one job per tick, run once", async () => {
    const tmp = tempDir();
    cleanups.push(tmp.cleanup);
    const path = join(tmp.dir, "race.db");
    const clock = new ManualClock(T0);
    // Opened one after another: in one thread, a second open would block on the first one's migration lock.
    const stores: SqliteJobStore[] = [];
    for (let i = 0; i < 5; i++) stores.push(await SqliteJobStore.open({ path }, { clock }));
    for (const s of stores) cleanups.push(() => s.close());
    const engines = stores.map((s) => start(s, clock));
    await engines[0]!.engine.schedule("race", { cron: "* * * * *", spec: { handler: "work" } });
    await settle();
    await stepTo(clock, T0 + 3 * MIN, 30_000);
    const ran = (): string[] => engines.flatMap((e) => e.ran);
    await until(() => ran().length === 3, "three runs");
    await settle();
    const jobs = await tickJobs(stores[4]!, "race");
    expect(jobs).toHaveLength(3);
    expect(ran().sort()).toEqual(jobs.map((j) => j.id).sort());
    expect(engines.flatMap((e) => e.ticks.filter((t) => t.submitted))).toHaveLength(3);
    expect(engines.flatMap((e) => e.errors)).toEqual([]);
  });

  it("unschedule (from another engine) stops future ticks; schedules() lists what is left", async () => {
    const clock = new ManualClock(T0);
    const store = new MemoryJobStore({ clock });
    const w = start(store, clock);
    await w.engine.schedule("a", { cron: "*/5 * * * *", spec: { handler: "work" } });
    await w.engine.schedule("b", { cron: "*/5 * * * *", spec: { handler: "work" } });
    await stepTo(clock, at("2026-01-05T10:06:00.000Z"), MIN);
    await until(() => w.ran.length === 2, "both 10:05 ticks ran");
    const other = start(store, clock, { loop: false });
    expect(await other.engine.unschedule("a")).toBe(true);
    expect(await other.engine.unschedule("a")).toBe(false);
    expect((await w.engine.schedules()).map((s) => [s.name, s.nextTickAt])).toEqual([["b", at("2026-01-05T10:10:00.000Z")]]);
    await stepTo(clock, at("2026-01-05T10:16:00.000Z"), MIN);
    await until(() => w.ran.length === 4, "b's next two ticks ran");
    expect(iso(await tickJobs(store, "a"))).toEqual(["2026-01-05T10:05:00.000Z"]);
    expect(iso(await tickJobs(store, "b"))).toEqual(["2026-01-05T10:05:00.000Z", "2026-01-05T10:10:00.000Z", "2026-01-05T10:15:00.000Z"]);
  });

  it("a schedule defined elsewhere is picked up at the next refresh, its first tick included", async () => {
    const clock = new ManualClock(T0);
    const store = new MemoryJobStore({ clock });
    const w = start(store, clock);
    await settle();
    const other = start(store, clock, { loop: false });
    await other.engine.schedule("late", { cron: "*/5 * * * *", spec: { handler: "work" } });
    // The worker does not know it until its refresh (10 s) — which comes before the 10:05 tick.
    await stepTo(clock, at("2026-01-05T10:06:00.000Z"), 5_000);
    await until(() => w.ran.length === 1, "the first tick ran");
    expect(iso(await tickJobs(store, "late"))).toEqual(["2026-01-05T10:05:00.000Z"]);
  });
});

describe("a stored schedule this engine cannot run", () => {
  it("is skipped with one engine:error (e.g. a handler typo from `pyrexis schedule add` without --handlers); the other schedules still tick", async () => {
    const clock = new ManualClock(T0);
    const store = new MemoryJobStore({ clock });
    // Written as the CLI writes it: checked for shape, not against any engine's handlers.
    const typo = buildScheduleRecord("typo", { cron: "*/5 * * * *", spec: { handler: "wrok" } }, { now: T0, modes: ["async"] });
    await store.putSchedule(typo);
    const w = start(store, clock);
    await w.engine.schedule("reindex", { cron: "*/5 * * * *", spec: { handler: "work" } });
    await stepTo(clock, at("2026-01-05T10:11:00.000Z"), MIN);
    await until(() => w.ran.length === 2, "reindex ticked twice");
    expect(iso(await tickJobs(store, "reindex"))).toEqual(["2026-01-05T10:05:00.000Z", "2026-01-05T10:10:00.000Z"]);
    expect(await tickJobs(store, "typo")).toEqual([]);
    expect(w.errors).toHaveLength(1);
    expect(String(w.errors[0])).toMatch(/no handler named "wrok"/);
  });
});

describe("engine.schedule: bad input writes nothing", () => {
  async function rejection(promise: Promise<unknown>): Promise<Record<string, unknown>> {
    try {
      await promise;
    } catch (e) {
      return e as Record<string, unknown>;
    }
    throw new Error("expected a rejection");
  }

  it("each bad option is a typed error naming it; nothing is stored", async () => {
    const clock = new ManualClock(T0);
    const store = new MemoryJobStore({ clock });
    const { engine } = start(store, clock, { loop: false });
    const spec = { handler: "work" };
    const cases: [string, unknown, string, RegExp][] = [
      ["a", { cron: "61 * * * *", spec }, "INVALID_SCHEDULE", /cron "61 \* \* \* \*".*minute/],
      ["a", { cron: "* * * * *", timezone: "Mars/Phobos", spec }, "INVALID_SCHEDULE", /timezone "Mars\/Phobos"/],
      ["a", { cron: "0 0 31 2 *", spec }, "INVALID_SCHEDULE", /never/],
      ["bad name", { cron: "* * * * *", spec }, "VALIDATION", /schedule name/],
      ["a", { cron: "* * * * *", spec: { handler: "nope" } }, "HANDLER_NOT_FOUND", /nope/],
      ["a", { cron: "* * * * *", spec: { handler: "work", mode: "gpu" } }, "UNKNOWN_MODE", /gpu/],
      ["a", { cron: "* * * * *", spec: { handler: "work", id: "x" } }, "VALIDATION", /spec\.id/],
      ["a", { cron: "* * * * *", spec: { handler: "work", delayMs: 5 } }, "VALIDATION", /spec\.delayMs/],
      ["a", { cron: "* * * * *", spec: { handler: "work", priority: 99 } }, "VALIDATION", /priority/],
      ["a", { cron: "* * * * *", spec, catchUpLimit: 0 }, "VALIDATION", /catchUpLimit/],
      ["a", { cron: "* * * * *", spec, catchUp: "yes" }, "VALIDATION", /catchUp/],
      ["a", { cron: "* * * * *", spec, every: "day" }, "VALIDATION", /unknown option every/],
      ["a", null, "VALIDATION", /options must be an object/],
    ];
    for (const [name, options, code, message] of cases) {
      const e = await rejection(engine.schedule(name, options as never));
      expect(isPyrexisError(e, code as never), `${JSON.stringify(options)} → ${String(e.message)}`).toBe(true);
      expect(String(e.message)).toMatch(message);
    }
    expect(await store.listSchedules()).toEqual([]);
  });

  it("a name reused with another cron or spec is a ScheduleConflictError and the stored schedule stays; the same definition is a no-op", async () => {
    const clock = new ManualClock(T0);
    const store = new MemoryJobStore({ clock });
    const { engine } = start(store, clock, { loop: false });
    const first = await engine.schedule("nightly", { cron: "0 3 * * *", timezone: "Europe/Paris", spec: { handler: "work", payload: 1 } });
    clock.advance(MIN);
    const again = await engine.schedule("nightly", { cron: "0 3 * * *", timezone: "Europe/Paris", spec: { handler: "work", payload: 1 } });
    expect(again.createdAt).toBe(first.createdAt);
    const e1 = await rejection(
      engine.schedule("nightly", { cron: "0 4 * * *", timezone: "Europe/Paris", spec: { handler: "work", payload: 1 } }),
    );
    expect(e1).toMatchObject({ code: "SCHEDULE_CONFLICT", scheduleName: "nightly", fields: ["cron"] });
    const e2 = await rejection(
      engine.schedule("nightly", { cron: "0 3 * * *", timezone: "Europe/Paris", spec: { handler: "work", payload: 2 } }),
    );
    expect(e2).toMatchObject({ code: "SCHEDULE_CONFLICT", fields: ["spec"] });
    expect(await store.listSchedules()).toEqual([first].map(({ nextTickAt: _n, ...r }) => r));
  });

  it("a store without the schedules capability is an IncompatibleStoreError", async () => {
    const clock = new ManualClock(T0);
    const store = new FlakyStore(new MemoryJobStore({ clock }));
    const { engine } = start(store, clock, { loop: false });
    const e = await rejection(engine.schedule("a", { cron: "* * * * *", spec: { handler: "work" } }));
    expect(e.code).toBe("INCOMPATIBLE_STORE");
    expect((await rejection(engine.schedules())).code).toBe("INCOMPATIBLE_STORE");
  });
});
