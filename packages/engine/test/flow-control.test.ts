// Named limits on one engine, with fake time: rates (no window over its units, no busy polling,
// starts as soon as a job fits), concurrency caps that never leak a slot, what a blocked job does
// and does not hold up, and the typed errors of bad limits.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ManualClock, isPyrexisError, LimitCapacityError, UnknownLimitError, ValidationError, type Job } from "@pyrexis/models";
import { MemoryJobStore } from "@pyrexis/storage";
import { seriesKey } from "@pyrexis/metrics";
import type { HandlerMap } from "@pyrexis/executors";
import { deferred, engineWith, FlakyStore, until } from "./helpers.js";
import type { Engine, EngineOptions } from "../src/index.js";

const SEED = Number(process.env["FC_SEED"] ?? 20_251_202);
const T0 = 1_800_000_000_000;

/** Lets the engine's promises and immediates run (claims, commits, handlers). */
async function settle(turns = 30): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r));
}

interface Started {
  id: string;
  at: number;
  units: number;
  job: Job;
}

/** An engine on fake time that records every start (clock time and the job's first weight). */
function recorded(handlers: HandlerMap, options: Partial<EngineOptions> = {}): { engine: Engine; clock: ManualClock; starts: Started[] } {
  const clock = (options.clock as ManualClock | undefined) ?? new ManualClock(T0);
  const engine = engineWith(handlers, { clock, ...options });
  const starts: Started[] = [];
  engine.on("job:started", ({ job }) => starts.push({ id: job.id, at: clock.now(), units: job.limits?.[0]?.units ?? 0, job }));
  return { engine, clock, starts };
}

function maxWindowSum(starts: readonly Started[], perMs: number): number {
  let max = 0;
  for (const s of starts) {
    const sum = starts.filter((o) => o.at >= s.at && o.at < s.at + perMs).reduce((n, o) => n + o.units, 0);
    max = Math.max(max, sum);
  }
  return max;
}

describe("rate limits", () => {
  it("90,000 units / 60 s with seeded weights 200–8,000: no 60 s window over the limit, ≥ 95 % used while work waits (fast-check)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 200, max: 8000 }), { minLength: 120, maxLength: 160 }), async (weights) => {
        const { engine, clock, starts } = recorded(
          { call: () => "ok" },
          { limits: { openai: { rate: { units: 90_000, perMs: 60_000 } } }, store: new FlakyStore(new MemoryJobStore()) },
        );
        const loop = engine.runLoop();
        await engine.submitJobs(weights.map((units) => ({ handler: "call", limits: [{ key: "openai", units }] })));
        await settle();
        while (starts.length < weights.length) {
          clock.advance(1000);
          await settle(3);
        }
        expect(maxWindowSum(starts, 60_000)).toBeLessThanOrEqual(90_000);
        const windows = Math.floor((starts.at(-1)!.at - T0) / 60_000);
        expect(windows).toBeGreaterThanOrEqual(4);
        const used = starts.filter((s) => s.at < T0 + windows * 60_000).reduce((n, s) => n + s.units, 0);
        expect(used / (windows * 90_000)).toBeGreaterThanOrEqual(0.95);
        await engine.shutdown();
        await loop;
      }),
      { seed: SEED, numRuns: 3 },
    );
  }, 60_000);

  it.each(["claims (MemoryJobStore)", "no claims"])(
    "a job without room waits, never fails, and starts at the exact time it fits, woken by one timer (%s)",
    async (kind) => {
      const clock = new ManualClock(T0);
      const store = kind === "no claims" ? new FlakyStore(new MemoryJobStore()) : new MemoryJobStore({ clock });
      const { engine, starts } = recorded({ call: () => "ok" }, { clock, store, limits: { api: { rate: { units: 10, perMs: 1000 } } } });
      const loop = engine.runLoop();
      const [a, b] = await engine.submitJobs([
        { handler: "call", limits: [{ key: "api", units: 7 }] },
        { handler: "call", limits: [{ key: "api", units: 7 }] },
      ]);
      expect((await engine.waitForResult(a!.id)).status).toBe("completed");
      await settle();
      expect(starts.map((s) => s.id)).toEqual([a!.id]);
      clock.advance(999);
      await settle();
      expect(starts).toHaveLength(1);
      clock.advance(1);
      await settle();
      expect(starts.map((s) => [s.id, s.at - T0])).toEqual([
        [a!.id, 0],
        [b!.id, 1000],
      ]);
      expect((await engine.waitForResult(b!.id)).status).toBe("completed");
      await engine.shutdown();
      await loop;
    },
  );

  it("a job blocked by its limit holds up neither unrelated jobs nor lighter jobs' order: a heavy job is not starved", async () => {
    const { engine, clock, starts } = recorded(
      { call: () => "ok" },
      { limits: { api: { rate: { units: 10, perMs: 1000 } }, pool: { maxConcurrent: 4 } }, store: new FlakyStore(new MemoryJobStore()) },
    );
    const loop = engine.runLoop();
    const [first] = await engine.submitJobs([{ handler: "call", limits: [{ key: "api", units: 6 }] }]);
    await engine.waitForResult(first!.id);
    // 4 units left: the heavy job waits; the light job (other limits too, so another lane) would
    // fit, but the limit is held for the better job that was refused first.
    const [heavy, light, free] = await engine.submitJobs([
      { handler: "call", priority: 9, limits: [{ key: "api", units: 10 }] },
      { handler: "call", priority: 1, limits: [{ key: "api", units: 1 }, { key: "pool" }] },
      { handler: "call", priority: 0 },
    ]);
    expect((await engine.waitForResult(free!.id)).status).toBe("completed");
    await settle();
    expect(starts.map((s) => s.id)).toEqual([first!.id, free!.id]);
    clock.advance(1000);
    await engine.waitForResult(heavy!.id);
    expect(starts.map((s) => s.id)).toEqual([first!.id, free!.id, heavy!.id]);
    clock.advance(1000);
    await engine.waitForResult(light!.id);
    expect(starts.map((s) => s.id)).toEqual([first!.id, free!.id, heavy!.id, light!.id]);
    await engine.shutdown();
    await loop;
  });

  it("jobs waiting for the same limit start in priority order once it has room", async () => {
    const { engine, clock, starts } = recorded({ call: () => "ok" }, { limits: { api: { rate: { units: 1, perMs: 1000 } } } });
    const loop = engine.runLoop();
    const [first] = await engine.submitJobs([{ handler: "call", limits: [{ key: "api" }] }]);
    await engine.waitForResult(first!.id);
    const jobs = await engine.submitJobs([2, 8, 5].map((priority) => ({ handler: "call", priority, limits: [{ key: "api" }] })));
    await settle();
    for (let i = 0; i < 3; i++) {
      clock.advance(1000);
      await settle();
    }
    await Promise.all(jobs.map((j) => engine.waitForResult(j.id)));
    expect(starts.slice(1).map((s) => s.job.priority)).toEqual([8, 5, 2]);
    await engine.shutdown();
    await loop;
  });
});

describe("concurrency per key (maxConcurrent)", () => {
  it("never runs more than maxConcurrent jobs of a limit at once, while other jobs run beside them", async () => {
    let inFlight = 0;
    let peak = 0;
    const gates: (() => void)[] = [];
    const { engine } = recorded(
      {
        gpu: async () => {
          inFlight++;
          peak = Math.max(peak, inFlight);
          await new Promise<void>((r) => gates.push(r));
          inFlight--;
        },
        other: () => "ok",
      },
      { limits: { gpu: { maxConcurrent: 2 } } },
    );
    const loop = engine.runLoop();
    const jobs = await engine.submitJobs(Array.from({ length: 8 }, () => ({ handler: "gpu", limits: [{ key: "gpu" }] })));
    const other = await engine.submitJob({ handler: "other" });
    expect((await engine.waitForResult(other.id)).status).toBe("completed");
    for (let released = 0; released < jobs.length; released++) {
      await until(() => gates.length > 0, "a gpu job to run");
      await settle();
      expect(inFlight).toBeLessThanOrEqual(2);
      gates.shift()!();
    }
    const results = await Promise.all(jobs.map((j) => engine.waitForResult(j.id)));
    expect(results.every((r) => r.status === "completed")).toBe(true);
    expect(peak).toBe(2);
    await engine.shutdown();
    await loop;
  });

  it("gives the slot back for jobs that throw, time out or are cancelled: later jobs still get both slots", async () => {
    const clock = new ManualClock(T0);
    const hold = deferred();
    let concurrent = 0;
    let peak = 0;
    const { engine } = recorded(
      {
        boom: () => {
          throw new Error("boom");
        },
        hang: (_p, ctx) => new Promise((_, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason as Error))),
        pair: async () => {
          concurrent++;
          peak = Math.max(peak, concurrent);
          await hold.promise;
          concurrent--;
        },
      },
      { clock, limits: { key: { maxConcurrent: 2 } } },
    );
    const loop = engine.runLoop();
    const limits = [{ key: "key" }];
    const [boom, slow, cancelled] = await engine.submitJobs([
      { handler: "boom", maxAttempts: 1, limits },
      { handler: "hang", maxAttempts: 1, timeoutMs: 500, limits },
      { handler: "hang", maxAttempts: 1, limits },
    ]);
    expect((await engine.waitForResult(boom!.id)).status).toBe("failed");
    await until(async () => (await engine.getJob(cancelled!.id))?.status === "running", "the third job to run");
    clock.advance(500);
    expect((await engine.waitForResult(slow!.id)).error?.code).toBe("TIMEOUT");
    await engine.cancelJob(cancelled!.id);
    expect((await engine.waitForResult(cancelled!.id)).status).toBe("cancelled");
    const pairs = await engine.submitJobs([
      { handler: "pair", limits },
      { handler: "pair", limits },
    ]);
    await until(() => peak === 2, "both slots to be used");
    hold.resolve();
    await Promise.all(pairs.map((j) => engine.waitForResult(j.id)));
    await engine.shutdown();
    await loop;
  });
});

describe("flow metrics", () => {
  it("the gauges show the jobs waiting per limit and per group while they wait, the units used, and 0 once they ran", async () => {
    const gates: (() => void)[] = [];
    const { engine } = recorded(
      { gpu: () => new Promise<void>((r) => gates.push(r)) },
      { limits: { gpu: { rate: { units: 1_000, perMs: 60_000 }, maxConcurrent: 1 } }, concurrency: { async: 8 } },
    );
    const loop = engine.runLoop();
    const jobs = await engine.submitJobs(
      Array.from({ length: 3 }, (_, i) => ({ handler: "gpu", limits: [{ key: "gpu", units: 2 }], group: i === 0 ? "a" : "b" })),
    );
    await until(() => gates.length === 1, "the first job to run");
    await settle();
    const gauge = (name: string, labels: Record<string, string>): number | undefined =>
      engine.getMetrics().getGauges()[seriesKey(name, labels)];
    expect(gauge("flow.limit_waiting", { limit: "gpu" })).toBe(2);
    expect(gauge("flow.limit_running", { limit: "gpu" })).toBe(1);
    expect(gauge("flow.group_waiting", { group: "b" })).toBe(2);
    expect(gauge("flow.limit_units_used", { limit: "gpu" })).toBe(2);
    for (let released = 0; released < jobs.length; released++) {
      await until(() => gates.length > 0, "a job to run");
      gates.shift()!();
    }
    await Promise.all(jobs.map((j) => engine.waitForResult(j.id)));
    expect(gauge("flow.limit_waiting", { limit: "gpu" })).toBe(0);
    expect(gauge("flow.group_waiting", { group: "b" })).toBe(0);
    expect(gauge("flow.limit_units_used", { limit: "gpu" })).toBe(6);
    await engine.shutdown();
    await loop;
  });
});

describe("jobs that start at once (nothing waits, a slot for each)", () => {
  it("still take their limits' units and slots and count per group; the first that finds no room waits, and so does every job after it", async () => {
    const gates: (() => void)[] = [];
    const { engine, starts } = recorded(
      { gpu: () => new Promise<void>((r) => gates.push(r)) },
      { limits: { gpu: { rate: { units: 1_000, perMs: 60_000 }, maxConcurrent: 3 } }, concurrency: { async: 8 } },
    );
    const loop = engine.runLoop();
    const gauge = (name: string, labels: Record<string, string>): number | undefined =>
      engine.getMetrics().getGauges()[seriesKey(name, labels)];
    const counter = (name: string, labels: Record<string, string>): number | undefined =>
      engine.getMetrics().getCounters()[seriesKey(name, labels)];
    // Two jobs: slots and room for both, so they skip the gate's queue.
    const first = await engine.submitJobs([
      { handler: "gpu", limits: [{ key: "gpu", units: 5 }], group: "a" },
      { handler: "gpu", limits: [{ key: "gpu", units: 7 }], group: "b" },
    ]);
    await until(() => gates.length === 2, "both jobs to run");
    await settle();
    expect(gauge("flow.limit_running", { limit: "gpu" })).toBe(2);
    expect(gauge("flow.limit_units_used", { limit: "gpu" })).toBe(12);
    expect(counter("flow.dispatched", { group: "a" })).toBe(1);
    expect(counter("flow.dispatched", { group: "b" })).toBe(1);
    // Three more: one slot of the limit is left, so one starts and two wait for it.
    const more = await engine.submitJobs(
      Array.from({ length: 3 }, () => ({ handler: "gpu", limits: [{ key: "gpu", units: 1 }], group: "c" })),
    );
    await until(() => gates.length === 3, "a third job to run");
    await settle();
    expect(gates).toHaveLength(3);
    expect(gauge("flow.limit_waiting", { limit: "gpu" })).toBe(2);
    while (starts.length < 5 || gates.length > 0) {
      await until(() => gates.length > 0, "a job to run");
      gates.shift()!();
      await settle();
      expect(gauge("flow.limit_running", { limit: "gpu" })).toBeLessThanOrEqual(3);
    }
    await Promise.all([...first, ...more].map((j) => engine.waitForResult(j.id)));
    expect(gauge("flow.limit_running", { limit: "gpu" })).toBe(0);
    expect(gauge("flow.limit_units_used", { limit: "gpu" })).toBe(15);
    expect(counter("flow.dispatched", { group: "c" })).toBe(3);
    await engine.shutdown();
    await loop;
  });
});

describe("jobs claimed together that compete for a limit", () => {
  it("go through the gate in fair order: the slot goes to the group whose turn it is, not to the first claimed", async () => {
    const order: string[] = [];
    const { engine } = recorded(
      { gpu: (payload) => void order.push(String(payload)) },
      { limits: { gpu: { maxConcurrent: 1 } }, groupWeights: { slow: 0.1, fast: 1 }, concurrency: { async: 8 } },
    );
    const loop = engine.runLoop();
    // One job of the slow group: its tag moves 10 dispatches ahead of a new group's.
    const [s0] = await engine.submitJobs([{ handler: "gpu", payload: "s0", limits: [{ key: "gpu" }], group: "slow" }]);
    await engine.waitForResult(s0!.id);
    // Claimed in one batch, the slow one first (claim order), with one slot of the limit for both.
    const jobs = await engine.submitJobs([
      { handler: "gpu", payload: "s1", limits: [{ key: "gpu" }], group: "slow" },
      { handler: "gpu", payload: "f1", limits: [{ key: "gpu" }], group: "fast" },
    ]);
    await Promise.all(jobs.map((j) => engine.waitForResult(j.id)));
    expect(order).toEqual(["s0", "f1", "s1"]);
    await engine.shutdown();
    await loop;
  });
});

describe("a limit another engine defined", () => {
  it("a job naming a limit this engine lacks runs without it, and the engine warns once per key", async () => {
    const store = new MemoryJobStore();
    const producer = engineWith({ call: () => "ok" }, { store, closeStore: false, limits: { openai: { maxConcurrent: 1 } } });
    const warnings: { obj: unknown; msg: string | undefined }[] = [];
    const warn = (obj: unknown, msg?: string): void => void warnings.push({ obj, msg });
    const noop = (): void => {};
    const worker = engineWith({ call: () => "ok" }, { store, closeStore: false, logger: { debug: noop, info: noop, warn, error: noop } });
    const jobs = await producer.submitJobs([1, 2, 3].map(() => ({ handler: "call", limits: [{ key: "openai" }] })));
    const loop = worker.runLoop();
    for (const job of jobs) expect((await worker.waitForResult(job.id)).status).toBe("completed");
    const told = warnings.filter((w) => w.msg?.includes('limit "openai"'));
    expect(told).toHaveLength(1);
    expect(told[0]?.msg).toContain("does not define");
    await worker.shutdown();
    await loop;
    await producer.shutdown();
  });
});

describe("bad limits: typed errors, nothing written", () => {
  it.each([
    [{ openai: {} }, "limits.openai"],
    [{ openai: { rate: { units: 0, perMs: 1000 } } }, "limits.openai.rate.units"],
    [{ openai: { rate: { units: 1.5, perMs: 1000 } } }, "limits.openai.rate.units"],
    [{ openai: { rate: { units: 10, perMs: -1 } } }, "limits.openai.rate.perMs"],
    [{ openai: { rate: { units: 10 } } }, "limits.openai.rate.perMs"],
    [{ openai: { maxConcurrent: 0 } }, "limits.openai.maxConcurrent"],
    [{ openai: { burst: 3, maxConcurrent: 1 } }, "limits.openai.burst"],
    [{ "": { maxConcurrent: 1 } }, "limits."],
    ["openai", "limits"],
  ])("refuses the engine option limits %j (issue path %s)", (limits, path) => {
    let error: unknown;
    try {
      engineWith({}, { limits: limits as EngineOptions["limits"] });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues[0]?.path.join(".")).toBe(path);
  });

  it("refuses bad group weights naming the group", () => {
    expect(() => engineWith({}, { groupWeights: { "tenant-a": 0 } })).toThrow(/groupWeights\.tenant-a/);
  });

  it("refuses an unknown limit key and a weight above the capacity at submit; nothing is written", async () => {
    const engine = engineWith(
      { call: () => "ok" },
      { limits: { openai: { rate: { units: 90_000, perMs: 60_000 } }, gpu: { maxConcurrent: 2 } } },
    );
    const unknown = await engine.submitJob({ handler: "call", limits: [{ key: "openia", units: 5 }] }).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(UnknownLimitError);
    expect(unknown).toMatchObject({ code: "UNKNOWN_LIMIT", limit: "openia", known: ["openai", "gpu"] });
    const tooBig = await engine
      .submitJobs([{ handler: "call" }, { handler: "call", limits: [{ key: "openai", units: 90_001 }] }])
      .catch((e: unknown) => e);
    expect(tooBig).toBeInstanceOf(LimitCapacityError);
    expect(isPyrexisError(tooBig, "LIMIT_CAPACITY")).toBe(true);
    // A concurrency-only limit has no capacity in units: any weight is fine.
    await engine.submitJob({ handler: "call", limits: [{ key: "gpu", units: 1_000_000 }] });
    expect(await engine.countByStatus()).toMatchObject({ pending: 1 });
    await engine.shutdown();
  });
  it("a job whose weight exceeds this engine's capacity (written by a process that could not check it) fails at once and holds up nobody", async () => {
    const clock = new ManualClock(T0);
    const store = new MemoryJobStore({ clock });
    // The submitter has a larger limit than the worker: its check passes, the worker's could not.
    const submitter = engineWith(
      { call: () => "ok" },
      { clock, store, closeStore: false, limits: { openai: { rate: { units: 200_000, perMs: 60_000 } }, gpu: { maxConcurrent: 4 } } },
    );
    const big = await submitter.submitJob({ handler: "call", priority: 9, limits: [{ key: "openai", units: 100_000 }] });
    const bigOfTwo = await submitter.submitJob({
      handler: "call",
      limits: [
        { key: "gpu", units: 1 },
        { key: "openai", units: 150_000 },
      ],
    });
    const small = await submitter.submitJobs([1, 2, 3].map(() => ({ handler: "call", limits: [{ key: "openai", units: 1_000 }] })));
    await submitter.shutdown();
    const ran: string[] = [];
    const { engine } = recorded(
      { call: (_p, ctx) => void ran.push(ctx.jobId) },
      { clock, store, limits: { openai: { rate: { units: 90_000, perMs: 60_000 } }, gpu: { maxConcurrent: 4 } } },
    );
    const loop = engine.runLoop();
    const result = await engine.waitForResult(big.id);
    expect(result).toMatchObject({ status: "failed", attempts: 1, error: { code: "LIMIT_CAPACITY" } });
    expect(await engine.waitForResult(bigOfTwo.id)).toMatchObject({ status: "failed", attempts: 1, error: { code: "LIMIT_CAPACITY" } });
    for (const job of small) expect(await engine.waitForResult(job.id)).toMatchObject({ status: "completed" });
    expect(ran).not.toContain(big.id);
    expect(ran).not.toContain(bigOfTwo.id);
    await engine.shutdown();
    await loop;
  });
});
