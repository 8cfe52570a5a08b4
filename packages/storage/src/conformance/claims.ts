import assert from "node:assert/strict";
import type { Job } from "@pyrexis/models";
import { hasClaims, MAX_CLAIM_LIMIT, MAX_LEASE_MS, MIN_LEASE_MS, type ClaimRequest } from "../claims.js";
import { claimedRecord, compareClaimOrder } from "../claims-kit.js";
import { assertDistinct, claimUntilEmpty, dueJob, idsOf, LEASE_MS, randomClaimJobs } from "./claim-data.js";
import { bump } from "./data.js";
import { claimsTest, plain, rejectsWith, snapshot, storeTest, tryMutate, type JobStoreFactory, type TestApi } from "./harness.js";
import { runClaimsModel } from "./claims-model.js";
import { leases } from "./leases.js";

const OK: ClaimRequest = { owner: "engine-a", limit: 10, leaseMs: LEASE_MS };

/** Claim requests with one malformed field each (and malformed requests as a whole). */
const BAD_CLAIMS: [string, unknown][] = [
  ["null", null],
  ["a number", 7],
  ["an array", [OK]],
  ["no owner", { limit: 1, leaseMs: LEASE_MS }],
  ["empty owner", { ...OK, owner: "" }],
  ["owner of 257 characters", { ...OK, owner: "o".repeat(257) }],
  ["numeric owner", { ...OK, owner: 42 }],
  ["no limit", { owner: "a", leaseMs: LEASE_MS }],
  ["limit 0", { ...OK, limit: 0 }],
  [`limit ${MAX_CLAIM_LIMIT + 1}`, { ...OK, limit: MAX_CLAIM_LIMIT + 1 }],
  ["limit 1.5", { ...OK, limit: 1.5 }],
  ["limit NaN", { ...OK, limit: Number.NaN }],
  ["limit as a string", { ...OK, limit: "5" }],
  ["no leaseMs", { owner: "a", limit: 1 }],
  [`leaseMs ${MIN_LEASE_MS - 1}`, { ...OK, leaseMs: MIN_LEASE_MS - 1 }],
  [`leaseMs ${MAX_LEASE_MS + 1}`, { ...OK, leaseMs: MAX_LEASE_MS + 1 }],
  ["leaseMs 100.5", { ...OK, leaseMs: 100.5 }],
  ["leaseMs Infinity", { ...OK, leaseMs: Number.POSITIVE_INFINITY }],
  ["modes empty", { ...OK, modes: [] }],
  ["modes a string", { ...OK, modes: "async" }],
  ["modes with an empty name", { ...OK, modes: ["async", ""] }],
  ["modes with a number", { ...OK, modes: [1] }],
  ["handlers empty", { ...OK, handlers: [] }],
  ["handlers a string", { ...OK, handlers: "echo" }],
  ["handlers with an empty name", { ...OK, handlers: [""] }],
];

/**
 * The claims capability ({@link ClaimMethods}): claiming (validation, order, due-ness, filters,
 * the record a claim writes, exclusivity under concurrency) here, and leases (renewal, reclaim,
 * fencing, release, owners, change marks, close, persistence) in `leases.ts`. Every case runs on
 * the test's `ManualClock`, passed to the factory as `{ clock }`, and is skipped unless the store
 * declares `capabilities.claims`; one case checks that the declaration and the methods agree.
 */
export function claims(api: TestApi, factory: JobStoreFactory, seed: number): void {
  const t = (title: string, body: Parameters<typeof claimsTest>[4]): void => claimsTest(api, factory, seed, title, body);
  api.describe("claims", () => {
    storeTest(api, factory, seed, "hasClaims(store) is true exactly when the store declares capabilities.claims", async ({ store }) => {
      const declared = store.capabilities.claims === true;
      assert.equal(
        hasClaims(store),
        declared,
        declared
          ? "the store declares capabilities.claims but lacks claim, renewLeases, reclaimExpired or leaseOwners"
          : "the store has the claims methods but does not declare capabilities.claims",
      );
    });

    t("a malformed claim request rejects with ValidationError and claims nothing", async ({ store, clock }) => {
      const job = dueJob(clock);
      await store.commit({ insert: [job] });
      const before = await snapshot(store, [job.id]);
      for (const [what, request] of BAD_CLAIMS) {
        await rejectsWith(store.claim(request as ClaimRequest), "ValidationError", "VALIDATION", `claim with ${what}`);
      }
      assert.deepStrictEqual(await snapshot(store, [job.id]), before, "a rejected claim must write nothing");
    });

    t("the bounds of a claim request are accepted", async ({ store }) => {
      for (const request of [
        { owner: "o".repeat(256), limit: MAX_CLAIM_LIMIT, leaseMs: MAX_LEASE_MS },
        { owner: "x", limit: 1, leaseMs: MIN_LEASE_MS, modes: ["async"], handlers: ["echo"] },
        { owner: "x", limit: 1, leaseMs: MIN_LEASE_MS, modes: undefined, handlers: undefined },
      ]) {
        assert.deepStrictEqual(await store.claim(request), [], `claim(${JSON.stringify(request)}) on an empty store`);
      }
    });

    t("claims come in claim order: aging key descending, then id (seeded priorities, runAts and modes)", async (h) => {
      const { store, clock, rng, agingRate } = h;
      const jobs = randomClaimJobs(rng, clock.now(), agingRate, 90, 0.25);
      for (let i = 0; i < jobs.length;) {
        const n = 1 + rng.int(15);
        await store.commit({ insert: jobs.slice(i, i + n) });
        i += n;
      }
      const inOrder = (list: Job[]): string[] => [...list].sort((a, b) => compareClaimOrder(a, b, agingRate)).map((j) => j.id);
      const due = jobs.filter((j) => j.runAt <= clock.now());
      const first = idsOf(await claimUntilEmpty(store, "engine-a", rng));
      assert.deepEqual(first, inOrder(due), `claim order with agingRate ${agingRate}: the reference is compareClaimOrder of the kit`);
      clock.advance(30_001);
      const rest = idsOf(await claimUntilEmpty(store, "engine-b", rng));
      assert.deepEqual(rest, inOrder(jobs.filter((j) => !due.includes(j))), "jobs that became due later, in claim order");
    });

    t("claimAgingRate, when the store reports one, is the rate its claims are ordered by", async ({ store, agingRate }) => {
      // Optional in the contract; an engine compares it with its own agingRate and refuses a mismatch.
      if (store.claimAgingRate === undefined) return;
      assert.equal(store.claimAgingRate, agingRate, "the store was opened with the factory's agingRate");
    });

    t("one claim hands out its jobs in claim order, and at most limit of them", async ({ store, clock, rng, agingRate }) => {
      const jobs = randomClaimJobs(rng, clock.now(), agingRate, 40);
      await store.commit({ insert: jobs });
      const expected = [...jobs].sort((a, b) => compareClaimOrder(a, b, agingRate)).map((j) => j.id);
      const batch = await store.claim({ owner: "a", limit: 25, leaseMs: LEASE_MS });
      assert.deepEqual(idsOf(batch), expected.slice(0, 25));
      assert.deepEqual(idsOf(await store.claim({ owner: "a", limit: 100, leaseMs: LEASE_MS })), expected.slice(25));
    });

    t("only due jobs are claimed: pending or retrying with runAt <= now", async ({ store, clock }) => {
      const now = clock.now();
      const pending = dueJob(clock, { runAt: now - 5 });
      const retrying = dueJob(clock, { status: "retrying", attempts: 1, lastError: { name: "Error", message: "x" } });
      const later = dueJob(clock, { runAt: now + 1 });
      const others = (["created", "running", "completed", "failed", "cancelled"] as const).map((status) =>
        dueJob(clock, { status, runAt: now - 1000 }),
      );
      await store.commit({ insert: [pending, retrying, later, ...others] });
      assert.deepEqual(idsOf(await store.claim({ ...OK, limit: 100 })).sort(), [pending.id, retrying.id].sort());
      assert.deepEqual(await store.claim({ ...OK, limit: 100 }), [], "a job due 1 ms from now is not due");
      clock.advance(1);
      assert.deepEqual(idsOf(await store.claim({ ...OK, limit: 100 })), [later.id], "due at runAt exactly");
      assert.deepEqual(await store.claim({ ...OK, limit: 100 }), [], "running, created and terminal jobs are never claimed");
    });

    t("commits that change whether a job is due are followed by the next claim", async ({ store, clock }) => {
      const now = clock.now();
      const postponed = dueJob(clock);
      const broughtForward = dueJob(clock, { runAt: now + 60_000 });
      const cancelled = dueJob(clock);
      const reprioritized = dueJob(clock, { priority: 0 });
      await store.commit({ insert: [postponed, broughtForward, cancelled, reprioritized] });
      await store.commit({
        update: [
          { job: bump(postponed, { runAt: now + 60_000 }), expectedVersion: 0 },
          { job: bump(broughtForward, { runAt: now }), expectedVersion: 0 },
          { job: bump(cancelled, { status: "cancelled" }), expectedVersion: 0 },
          { job: bump(reprioritized, { priority: 10 }), expectedVersion: 0 },
        ],
      });
      const claimed = await store.claim({ ...OK, limit: 100 });
      assert.deepEqual(idsOf(claimed), [reprioritized.id, broughtForward.id], "the committed runAt, status and priority count");
      assert.equal(claimed[0]?.job.priority, 10);
      clock.advance(60_000);
      assert.deepEqual(idsOf(await store.claim({ ...OK, limit: 100 })), [postponed.id]);
    });

    t("modes and handlers filters: only matching jobs, in claim order; the others stay claimable", async ({ store, clock }) => {
      const now = clock.now();
      const spec: [string, string][] = [
        ["async", "echo"],
        ["thread", "embed"],
        ["gpu", "echo"],
        ["async", "embed"],
        ["thread", "echo"],
        ["gpu", "embed"],
      ];
      const jobs = spec.map(([mode, handler], i) => dueJob(clock, { mode, handler, runAt: now - 1000 * i }));
      const byId = (pick: (j: Job) => boolean): string[] => jobs.filter(pick).map((j) => j.id); // oldest runAt last here
      const ordered = (ids: string[]): string[] => [...ids].reverse(); // all priority 5: older runAt first
      await store.commit({ insert: jobs });
      assert.deepEqual(await store.claim({ ...OK, modes: ["no-such-mode"] }), []);
      assert.deepEqual(await store.claim({ ...OK, handlers: ["no-such-handler"] }), []);
      assert.deepEqual(
        idsOf(await store.claim({ ...OK, modes: ["thread", "gpu"], handlers: ["embed"] })),
        ordered(byId((j) => j.handler === "embed" && j.mode !== "async")),
        "modes and handlers together: both must match",
      );
      assert.deepEqual(idsOf(await store.claim({ ...OK, modes: ["async"] })), ordered(byId((j) => j.mode === "async")));
      assert.deepEqual(
        idsOf(await store.claim({ ...OK, handlers: ["echo"] })),
        ordered(byId((j) => j.handler === "echo" && j.mode !== "async")),
      );
      assert.deepEqual(await store.claim({ ...OK, limit: 100 }), [], "every job was claimed exactly once");
    });

    t("a claim writes running, attempts + 1, version + 1, updatedAt = now and a lease to now + leaseMs", async ({ store, clock }) => {
      const fresh = dueJob(clock, { priority: 9, timeoutMs: 5000 });
      const retried = dueJob(clock, {
        priority: 8,
        status: "retrying",
        attempts: 2,
        maxAttempts: 5,
        version: 6,
        lastError: { name: "Error", message: "boom", code: "HANDLER_ERROR" },
      });
      await store.commit({ insert: [fresh, retried] });
      clock.advance(1234);
      const now = clock.now();
      const claimed = await store.claim({ owner: "engine-a", limit: 10, leaseMs: 4321 });
      assert.deepEqual(idsOf(claimed), [fresh.id, retried.id]);
      for (const [i, previous] of [fresh, retried].entries()) {
        const { job, lease } = claimed[i]!;
        assert.deepStrictEqual(
          plain(job),
          plain(claimedRecord(previous, now)),
          "the claimed record is what claimedRecord (startAttempt) writes",
        );
        assert.equal(job.status, "running");
        assert.equal(job.attempts, previous.attempts + 1, "the claim counts the attempt");
        assert.equal(lease.jobId, previous.id);
        assert.equal(lease.owner, "engine-a");
        assert.equal(lease.version, previous.version + 1, "the lease's version is the version the claim wrote");
        assert.equal(lease.expiresAt, now + 4321, "expiresAt = now + leaseMs by the store's clock");
        assert.deepStrictEqual(plain(await store.getJob(previous.id)), plain(job), "the claim is stored before claim resolves");
      }
      const counts = await store.countByStatus();
      assert.equal(counts.running, 2);
      assert.equal(counts.pending + counts.retrying, 0);
      tryMutate(() => {
        (claimed[0]!.job as { status: string }).status = "failed";
      });
      assert.equal((await store.getJob(fresh.id))?.status, "running", "mutating a claimed job must not change the store");
    });

    t("concurrent claimers never receive the same job and together receive every due job (seeded rounds)", async (h) => {
      const { store, clock, rng, agingRate } = h;
      const owners = ["engine-a", "engine-b", "engine-c", "engine-d"];
      let free: Job[] = []; // released in the last round: due again
      const completed = new Set<string>();
      const held = new Map<string, string>(); // job id → owner, held for the whole run
      for (let round = 0; round < 12; round++) {
        const fresh = randomClaimJobs(rng, clock.now(), agingRate, 5 + rng.int(30));
        await store.commit({ insert: fresh });
        const due = [...fresh, ...free].map((j) => j.id);
        const got: { owner: string; id: string; version: number }[] = [];
        for (;;) {
          const wave = Array.from({ length: 2 + rng.int(8) }, () => ({ owner: rng.pick(owners), limit: 1 + rng.int(6) }));
          const results = await Promise.all(wave.map((w) => store.claim({ ...w, leaseMs: LEASE_MS })));
          for (const [i, batch] of results.entries()) {
            for (const c of batch) got.push({ owner: wave[i]!.owner, id: c.job.id, version: c.lease.version });
          }
          if (results.every((b) => b.length === 0)) break;
        }
        const ids = got.map((g) => g.id);
        assertDistinct(ids, `round ${round}`);
        assert.deepEqual([...ids].sort(), [...due].sort(), `round ${round}: the due jobs, each exactly once`);
        for (const id of ids) assert.ok(!held.has(id) && !completed.has(id), `round ${round}: ${id} was handed out while held or done`);
        // Each claimed job is completed, released (due again next round) or kept running.
        free = [];
        for (const g of got) {
          const job = (await store.getJob(g.id))!;
          const fate = rng.int(3);
          if (fate === 0) {
            await store.commit({ update: [{ job: bump(job, { status: "completed" }), expectedVersion: g.version }] });
            completed.add(g.id);
          } else if (fate === 1) {
            const released = bump(job, { status: "retrying", attempts: job.attempts - 1, runAt: clock.now() });
            await store.commit({ update: [{ job: released, expectedVersion: g.version }] });
            free.push(released);
          } else held.set(g.id, g.owner);
        }
        clock.advance(1 + rng.int(1000));
      }
      const counts = await store.countByStatus();
      assert.equal(counts.running, held.size, "every job kept by its claimant is still running");
      assert.equal(counts.completed, completed.size);
    });

    t("a seeded random run of claims, renewals, reclaims and writes matches the model of the rules, step by step", async (h) => {
      await runClaimsModel(h, 250);
    });

    leases(api, factory, seed);
  });
}
