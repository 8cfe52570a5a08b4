import assert from "node:assert/strict";
import type { Job, JobLimit, ManualClock } from "@pyrexis/models";
import type { ClaimedJob } from "../claims.js";
import { hasFlow, type FlowClaimOptions, type FlowClaimRequest, type FlowJobStore } from "../flow.js";
import type { JobStore } from "../job-store.js";
import { LEASE_MS, dueJob, idsOf } from "./claim-data.js";
import { bump } from "./data.js";
import { rejectsWith, snapshot, storeTest, type ClaimsHarness, type JobStoreFactory, type TestApi } from "./harness.js";

const RATE: FlowClaimOptions = { limits: { api: { rate: { units: 10, perMs: 1000 } } } };
const SLOTS: FlowClaimOptions = { limits: { gpu: { maxConcurrent: 2 } } };

function request(flow: FlowClaimOptions, limit = 10, owner = "engine-a"): FlowClaimRequest {
  return { owner, limit, leaseMs: LEASE_MS, flow };
}

/** A due job using `limits`, in `group` when given. */
function flowJob(clock: ManualClock, limits: JobLimit[] | undefined, group?: string, overrides: Partial<Job> = {}): Job {
  return dueJob(clock, { ...(limits === undefined ? {} : { limits }), ...(group === undefined ? {} : { group }), ...overrides });
}

/** Ends a claimed job (`completed`), fenced by its lease: its slot comes back. */
async function complete(store: JobStore, c: ClaimedJob): Promise<void> {
  await store.commit({ update: [{ job: bump(c.job, { status: "completed" }), expectedVersion: c.lease.version }] });
}

/** Claims one job at a time until none is handed out; returns the groups in pick order. */
async function groupOrder(store: FlowJobStore, flow: FlowClaimOptions, picks: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < picks; i++) {
    const { claimed } = await store.claimFlow(request(flow, 1));
    if (claimed.length === 0) break;
    out.push(claimed[0]!.job.group ?? "");
  }
  return out;
}

const BAD_FLOW: [string, unknown][] = [
  ["no flow", undefined],
  ["flow null", null],
  ["flow without limits", {}],
  ["limits an array", { limits: [] }],
  ["a limit with neither rate nor maxConcurrent", { limits: { a: {} } }],
  ["rate units 0", { limits: { a: { rate: { units: 0, perMs: 1000 } } } }],
  ["rate perMs 1.5", { limits: { a: { rate: { units: 1, perMs: 1.5 } } } }],
  ["maxConcurrent 0", { limits: { a: { maxConcurrent: 0 } } }],
  ["an empty key", { limits: { "": { maxConcurrent: 1 } } }],
  ["a weight 0", { limits: {}, groupWeights: { a: 0 } }],
  ["a weight NaN", { limits: {}, groupWeights: { a: Number.NaN } }],
];

/**
 * The flow capability ({@link FlowMethods}): admission by rate and concurrency, held limits,
 * over-capacity jobs, weighted fair shares between groups with tags kept in the store, charges,
 * exclusive concurrent flow claims, and the state across a second handle and across reopen.
 * Skipped unless the store declares `capabilities.flow`.
 */
export function flow(api: TestApi, factory: JobStoreFactory, seed: number): void {
  const t = (title: string, body: (h: ClaimsHarness & { store: FlowJobStore }) => Promise<void>): void =>
    storeTest(api, factory, seed, title, (h) => body(h as ClaimsHarness & { store: FlowJobStore }), {
      claims: true,
      capability: { name: "flow", present: hasFlow },
    });
  api.describe("flow", () => {
    t("a malformed flow claim rejects with ValidationError and claims nothing", async ({ store, clock }) => {
      const job = flowJob(clock, [{ key: "api", units: 1 }]);
      await store.commit({ insert: [job] });
      const before = await snapshot(store, [job.id]);
      for (const [what, flow] of BAD_FLOW) {
        const bad = { owner: "a", limit: 1, leaseMs: LEASE_MS, flow } as FlowClaimRequest;
        await rejectsWith(store.claimFlow(bad), "ValidationError", "VALIDATION", `claimFlow with ${what}`);
      }
      await rejectsWith(store.claimFlow({ ...request(RATE), limit: 0 }), "ValidationError", "VALIDATION", "claimFlow with limit 0");
      assert.deepStrictEqual(await snapshot(store, [job.id]), before, "a rejected flow claim must write nothing");
    });

    t(
      "a rate admits jobs while their units fit the window; a refused job stays pending with its attempt uncounted",
      async ({ store, clock }) => {
        const jobs = [4, 4, 4].map((units) => flowJob(clock, [{ key: "api", units }]));
        await store.commit({ insert: jobs });
        const first = await store.claimFlow(request(RATE));
        assert.deepStrictEqual(idsOf(first.claimed), [jobs[0]!.id, jobs[1]!.id], "8 of 10 units fit; the third job's 4 do not");
        assert.equal(first.refused, 1);
        assert.deepStrictEqual(first.waiting, { api: 1 }, "the refused job is counted under the limit it waits for");
        assert.equal(first.retryAt, clock.now() + 1000, "the third fits once the first admission leaves the window");
        const waiting = await store.getJob(jobs[2]!.id);
        assert.equal(waiting?.status, "pending");
        assert.equal(waiting?.attempts, 0, "a job a limit refused has no attempt counted");
        clock.advance(999);
        assert.deepStrictEqual((await store.claimFlow(request(RATE))).claimed, [], "1 ms before the window moves, still no room");
        clock.advance(1);
        assert.deepStrictEqual(idsOf((await store.claimFlow(request(RATE))).claimed), [jobs[2]!.id]);
      },
    );

    t("no sliding window ever holds more than the rate's units (seeded weights and times)", async ({ store, clock, rng }) => {
      const perMs = 1000;
      const cap = 50;
      const flowOptions: FlowClaimOptions = { limits: { api: { rate: { units: cap, perMs } } } };
      const weights = new Map<string, number>();
      const jobs: Job[] = [];
      for (let i = 0; i < 120; i++) {
        const units = 1 + rng.int(20);
        const job = flowJob(clock, [{ key: "api", units }]);
        weights.set(job.id, units);
        jobs.push(job);
      }
      await store.commit({ insert: jobs });
      const admitted: [number, number][] = [];
      for (let round = 0; round < 1000 && admitted.length < jobs.length; round++) {
        const { claimed } = await store.claimFlow(request(flowOptions, 1 + rng.int(8)));
        for (const c of claimed) admitted.push([clock.now(), weights.get(c.job.id)!]);
        clock.advance(1 + rng.int(120));
      }
      assert.equal(admitted.length, jobs.length, "every job gets through as the window moves");
      for (const [t0] of admitted) {
        let sum = 0;
        for (const [t1, u] of admitted) if (t1 > t0 - perMs && t1 <= t0) sum += u;
        assert.ok(sum <= cap, `the window ending at ${t0} holds ${sum} units, over ${cap}`);
      }
    });

    t("a claim that defines a key keeps its window even when it finds no job using it", async ({ store, clock }) => {
      const long: FlowClaimOptions = { limits: { api: { rate: { units: 3, perMs: 10_000 } } } };
      const short: FlowClaimOptions = { limits: { api: { rate: { units: 2, perMs: 1000 } } } };
      const first = [flowJob(clock, [{ key: "api", units: 1 }]), flowJob(clock, [{ key: "api", units: 1 }])];
      await store.commit({ insert: first });
      assert.equal((await store.claimFlow(request(short, 10, "engine-b"))).claimed.length, 2);
      assert.deepStrictEqual(
        (await store.claimFlow(request(long, 10))).claimed,
        [],
        "nothing is due: the long claimant counts the key anyway",
      );
      clock.advance(2000);
      const more = Array.from({ length: 4 }, () => flowJob(clock, [{ key: "api", units: 1 }]));
      await store.commit({ insert: more });
      assert.equal((await store.claimFlow(request(short, 10, "engine-b"))).claimed.length, 2, "the short window is empty again");
      const fromLong = await store.claimFlow(request(long, 10));
      assert.deepStrictEqual(fromLong.claimed, [], "the long window holds all 4 admissions of the last 10 s");
    });

    t("limits named like Object members (constructor, __proto__) are kept and counted as any other", async ({ store, clock }) => {
      const names = ["constructor", "__proto__"];
      const jobs = names.flatMap((key) => [flowJob(clock, [{ key, units: 1 }]), flowJob(clock, [{ key, units: 1 }])]);
      await store.commit({ insert: jobs });
      const flow: FlowClaimOptions = { limits: Object.fromEntries(names.map((key) => [key, { rate: { units: 1, perMs: 1000 } }])) };
      const r = await store.claimFlow(request(flow, 10));
      assert.equal(r.claimed.length, 2, "one job of each limit fits");
      assert.deepStrictEqual(r.waiting, Object.fromEntries(names.map((key) => [key, 1])), "and one of each waits");
      assert.ok(Object.hasOwn(r.waiting, "__proto__"), "__proto__ is an own key of waiting");
    });

    t(
      "claimants with different windows for one key each count their own window, and a shorter one never drops a longer one's entries",
      async ({ store, clock }) => {
        const long: FlowClaimOptions = { limits: { api: { rate: { units: 3, perMs: 10_000 } } } };
        const short: FlowClaimOptions = { limits: { api: { rate: { units: 2, perMs: 1000 } } } };
        const jobs = Array.from({ length: 10 }, () => flowJob(clock, [{ key: "api", units: 1 }]));
        await store.commit({ insert: jobs });
        const start = clock.now();
        assert.equal((await store.claimFlow(request(long, 10))).claimed.length, 3, "the long window (10 s) admits its 3 units");
        clock.advance(2000);
        assert.equal(
          (await store.claimFlow(request(short, 10, "engine-b"))).claimed.length,
          2,
          "the short window (1 s) no longer holds the admissions of 2 s ago",
        );
        const fromLong = await store.claimFlow(request(long, 10));
        assert.deepStrictEqual(fromLong.claimed, [], "the long window holds all 5 admissions: the short claim dropped none");
        assert.equal(fromLong.retryAt, start + 10_000, "the long window has room when its own 3 admissions are 10 s old");
        clock.advance(500);
        const fromShort = await store.claimFlow(request(short, 10, "engine-b"));
        assert.deepStrictEqual(fromShort.claimed, [], "the short window holds its own 2");
        assert.equal(fromShort.retryAt, start + 3000, "counted over its own window, it has room 1 s after its admissions");
        clock.advance(500);
        assert.equal((await store.claimFlow(request(short, 10, "engine-b"))).claimed.length, 2, "and then admits 2 more");
        clock.set(start + 10_000);
        const stillFull = await store.claimFlow(request(long, 10));
        assert.deepStrictEqual(stillFull.claimed, [], "the short claimant's 4 admissions of the last 10 s fill the long window");
        assert.equal(stillFull.retryAt, start + 12_000);
        clock.set(start + 12_000);
        assert.equal((await store.claimFlow(request(long, 10))).claimed.length, 1, "then 2 admissions (at 3 s) leave room for 1");
      },
    );

    t(
      "maxConcurrent counts running holds across claims; an ended job or a reclaimed lease gives its slot back",
      async ({ store, clock }) => {
        const jobs = Array.from({ length: 5 }, () => flowJob(clock, [{ key: "gpu", units: 1 }]));
        await store.commit({ insert: jobs });
        const a = await store.claimFlow(request(SLOTS, 5));
        assert.equal(a.claimed.length, 2, "two slots");
        assert.equal(a.retryAt, undefined, "a concurrency cap gives no retry time");
        assert.deepStrictEqual((await store.claimFlow(request(SLOTS, 5, "engine-b"))).claimed, [], "another claimant sees the slots taken");
        await complete(store, a.claimed[0]!);
        const b = await store.claimFlow(request(SLOTS, 5, "engine-b"));
        assert.equal(b.claimed.length, 1, "the completed job's slot came back");
        clock.advance(LEASE_MS);
        const held = await store.claimFlow(request(SLOTS, 5, "engine-c"));
        assert.deepStrictEqual(held.claimed, [], "an expired lease holds its slot until it is reclaimed");
        const reclaimed = await store.reclaimExpired({ limit: 10 });
        assert.equal(reclaimed.retried.length, 2, "both expired leases are reclaimed");
        const c = await store.claimFlow(request(SLOTS, 5, "engine-c"));
        assert.equal(c.claimed.length, 2, "the reclaim gave both slots back");
      },
    );

    t("a refused job holds its limits for the rest of the claim; jobs of other limits still go", async ({ store, clock }) => {
      const heavy = flowJob(clock, [{ key: "api", units: 8 }], undefined, { priority: 9 });
      const light = flowJob(clock, [{ key: "api", units: 1 }], undefined, { priority: 5 });
      const other = flowJob(clock, [{ key: "gpu", units: 1 }], undefined, { priority: 1 });
      const starter = flowJob(clock, [{ key: "api", units: 5 }], undefined, { priority: 10 });
      await store.commit({ insert: [starter] });
      assert.equal((await store.claimFlow(request({ limits: { ...RATE.limits, ...SLOTS.limits } }))).claimed.length, 1);
      await store.commit({ insert: [heavy, light, other] });
      const r = await store.claimFlow(request({ limits: { ...RATE.limits, ...SLOTS.limits } }));
      assert.deepStrictEqual(idsOf(r.claimed), [other.id], "the light job must not take the room the heavy one waits for");
      assert.equal(r.refused, 2);
      assert.deepStrictEqual(r.waiting, { api: 2 }, "both refused jobs wait for api; gpu had room");
    });

    t(
      "a full cap with a deep backlog: the claim counts every refused job and still finds what fits behind them",
      async ({ store, clock }) => {
        // api: one slot and a rate of 10; gpu: two slots. The starter fills api's slot.
        const limits = { limits: { api: { maxConcurrent: 1, rate: { units: 10, perMs: 1000 } }, gpu: { maxConcurrent: 2 } } };
        const starter = flowJob(clock, [{ key: "api", units: 1 }], undefined, { priority: 10 });
        await store.commit({ insert: [starter] });
        assert.deepStrictEqual(idsOf((await store.claimFlow(request(limits, 1))).claimed), [starter.id]);
        // In claim order: 300 jobs on api, one on gpu and api (refused by api: gpu is held from then
        // on), one over api's rate capacity (handed out though api is held), one on gpu alone (held),
        // one without limits. More than any store reads at once before the first refusal.
        const backlog = Array.from({ length: 300 }, () => flowJob(clock, [{ key: "api", units: 1 }], undefined, { priority: 8 }));
        const both = flowJob(
          clock,
          [
            { key: "gpu", units: 1 },
            { key: "api", units: 1 },
          ],
          undefined,
          { priority: 7 },
        );
        const huge = flowJob(clock, [{ key: "api", units: 11 }], undefined, { priority: 6 });
        const gpu = flowJob(clock, [{ key: "gpu", units: 1 }], undefined, { priority: 5 });
        const free = flowJob(clock, undefined, undefined, { priority: 4 });
        await store.commit({ insert: [...backlog, both, huge, gpu, free] });
        const r = await store.claimFlow(request(limits, 10));
        assert.deepStrictEqual(idsOf(r.claimed), [huge.id, free.id], "what fits behind the refused jobs is claimed, in claim order");
        assert.equal(r.refused, 302, "every refused job is counted");
        assert.deepStrictEqual(r.waiting, { api: 301, gpu: 2 }, "a refused job waits under each limit it uses");
        assert.equal(r.retryAt, undefined, "no job was refused by the rate");
      },
    );

    t(
      "a job over a rate's capacity is handed out without taking room; a limit the claim does not define is not applied",
      async ({ store, clock }) => {
        const huge = flowJob(clock, [{ key: "api", units: 11 }], undefined, { priority: 9 });
        const fits = flowJob(clock, [{ key: "api", units: 10 }], undefined, { priority: 5 });
        const unknown = flowJob(clock, [{ key: "elsewhere", units: 1_000 }], undefined, { priority: 1 });
        await store.commit({ insert: [huge, fits, unknown] });
        const r = await store.claimFlow(request(RATE));
        assert.deepStrictEqual(idsOf(r.claimed), [huge.id, fits.id, unknown.id]);
        assert.deepStrictEqual(r.waiting, {}, "nothing was refused");
        assert.equal(r.refused, 0);
      },
    );

    t('groups weighted 3:2:1 get 3:2:1 of the picks; ungrouped jobs form group ""', async ({ store, clock }) => {
      const jobs: Job[] = [];
      for (const g of ["a", "b", "c", undefined]) for (let i = 0; i < 60; i++) jobs.push(flowJob(clock, undefined, g));
      await store.commit({ insert: jobs });
      const order = await groupOrder(store, { limits: {}, groupWeights: { a: 3, b: 2, c: 1 } }, 70);
      const count = (g: string): number => order.filter((x) => x === g).length;
      // Weights 3:2:1:1 over 70 picks: 30, 20, 10, 10, exactly by the tags (±1 for the cut).
      assert.ok(Math.abs(count("a") - 30) <= 1, `a: ${count("a")} of 70`);
      assert.ok(Math.abs(count("b") - 20) <= 1, `b: ${count("b")} of 70`);
      assert.ok(Math.abs(count("c") - 10) <= 1, `c: ${count("c")} of 70`);
      assert.ok(Math.abs(count("") - 10) <= 1, `ungrouped: ${count("")} of 70`);
    });

    t("a new group's first job is claimed within one round, behind a group with a backlog of 1,000", async ({ store, clock }) => {
      const backlog = Array.from({ length: 1000 }, () => flowJob(clock, undefined, "backfill", { priority: 9 }));
      await store.commit({ insert: backlog });
      assert.equal((await store.claimFlow(request({ limits: {} }, 5))).claimed.length, 5);
      const late = flowJob(clock, undefined, "interactive", { priority: 0 });
      await store.commit({ insert: [late] });
      const next = await store.claimFlow(request({ limits: {} }, 2));
      assert.ok(idsOf(next.claimed).includes(late.id), "the new group goes before the backlog is served twice");
    });

    t("group tags live in the store: claims through two handles share one fair order", async (h) => {
      const { store, clock } = h;
      const jobs: Job[] = [];
      for (const g of ["a", "b"]) for (let i = 0; i < 20; i++) jobs.push(flowJob(clock, undefined, g));
      await store.commit({ insert: jobs });
      const second = (factory.openSecond === undefined ? store : await h.openSecond(store)) as FlowJobStore;
      const order: string[] = [];
      for (let i = 0; i < 20; i++) {
        const { claimed } = await (i % 2 === 0 ? store : second).claimFlow(request({ limits: {}, groupWeights: { a: 3 } }, 1));
        order.push(claimed[0]!.job.group!);
      }
      assert.equal(order.filter((g) => g === "a").length, 15, `a weighs 3 and b 1: 15 of 20 picks, got ${order.join("")}`);
    });

    t("chargeFlow sets the units of a window entry: a credit makes room at once", async ({ store, clock }) => {
      const jobs = [8, 8].map((units) => flowJob(clock, [{ key: "api", units }]));
      await store.commit({ insert: jobs });
      const [c] = (await store.claimFlow(request(RATE))).claimed;
      assert.ok(c);
      assert.equal(await store.chargeFlow({ jobId: c.job.id, version: c.lease.version, key: "api", units: 2 }), true);
      assert.equal((await store.claimFlow(request(RATE))).claimed.length, 1, "2 + 8 fit in 10");
      assert.equal(
        await store.chargeFlow({ jobId: c.job.id, version: c.lease.version + 1, key: "api", units: 0 }),
        false,
        "another version",
      );
      assert.equal(await store.chargeFlow({ jobId: c.job.id, version: c.lease.version, key: "gpu", units: 0 }), false, "another key");
      await rejectsWith(
        store.chargeFlow({ jobId: c.job.id, version: c.lease.version, key: "api", units: -1 }),
        "ValidationError",
        "VALIDATION",
      );
    });

    t("concurrent flow claims never hand out one job twice nor exceed maxConcurrent", async (h) => {
      const { store, clock } = h;
      const jobs = Array.from({ length: 30 }, (_, i) => flowJob(clock, i % 2 === 0 ? [{ key: "gpu", units: 1 }] : undefined));
      await store.commit({ insert: jobs });
      const second = (factory.openSecond === undefined ? store : await h.openSecond(store)) as FlowJobStore;
      const flowOptions: FlowClaimOptions = { limits: { gpu: { maxConcurrent: 3 } } };
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? store : second).claimFlow(request(flowOptions, 4, `engine-${i}`))),
      );
      const claimed = results.flatMap((r) => r.claimed);
      assert.equal(new Set(idsOf(claimed)).size, claimed.length, "a job was handed out twice");
      const gpu = claimed.filter((c) => c.job.limits?.[0]?.key === "gpu").length;
      assert.equal(gpu, 3, `exactly 3 gpu jobs may run at once, ${gpu} were claimed`);
    });

    t("window entries and group tags survive reopen", async (h) => {
      if (h.store.capabilities.persistent !== true) return;
      const { clock } = h;
      const jobs = [6, 6].map((units) => flowJob(clock, [{ key: "api", units }]));
      await h.store.commit({ insert: jobs });
      assert.equal((await h.store.claimFlow(request(RATE))).claimed.length, 1);
      const again = (await h.reopen(h.store)) as FlowJobStore;
      assert.deepStrictEqual((await again.claimFlow(request(RATE))).claimed, [], "the window holds 6 of 10 after reopen");
    });
  });
}
