import assert from "node:assert/strict";
import { hasClaims, type ClaimedJob, type ClaimsJobStore } from "../claims.js";
import type { JobStore } from "../job-store.js";
import { assertDistinct, dueJob, idsOf, LEASE_MS, randomClaimJobs } from "./claim-data.js";
import { bump, makeJob, makeResult } from "./data.js";
import { claimsTest, plain, rejectsWith, storeTest, type ClaimsHarness, type JobStoreFactory, type TestApi } from "./harness.js";

/** Exactly one fulfilled; the others rejected with `name`. Returns the winner's index. */
function oneWinner(settled: PromiseSettledResult<unknown>[], name: string, what: string): number {
  const won = settled.filter((r) => r.status === "fulfilled").length;
  assert.equal(won, 1, `${what}: exactly one commit across the handles must win, ${won} did`);
  for (const r of settled) {
    if (r.status === "rejected") {
      const e = r.reason as { name?: string; message?: string };
      assert.equal(e.name, name, `${what}: losers get ${name}, got ${String(e.name)}: ${String(e.message)}`);
    }
  }
  return settled.findIndex((r) => r.status === "fulfilled");
}

/** A second handle of a claims store; it must have the claims methods too. */
async function secondClaims(h: ClaimsHarness): Promise<ClaimsJobStore> {
  const second = await h.openSecond(h.store);
  assert.ok(hasClaims(second), "a second handle on a claims store must have the claims methods");
  return second;
}

/**
 * The `shared` capability: two handles on the same data at once (`factory.openSecond`), as two
 * engines (connections, processes) have. Runs when the factory has `openSecond`, which it must
 * have exactly when the store declares `capabilities.shared`.
 */
export function shared(api: TestApi, factory: JobStoreFactory, seed: number): void {
  const t = (title: string, body: Parameters<typeof storeTest>[4]): void => storeTest(api, factory, seed, title, body);
  const c = (title: string, body: (h: ClaimsHarness) => Promise<void>): void => claimsTest(api, factory, seed, title, body);
  api.describe("shared", () => {
    if (!factory.openSecond) {
      t("without factory.openSecond, the store does not declare capabilities.shared", async ({ store }) => {
        assert.notEqual(
          store.capabilities.shared,
          true,
          "a store declaring shared: true needs factory.openSecond so the suite can prove it",
        );
      });
      return;
    }
    t("with factory.openSecond, the store declares capabilities.shared", async ({ store }) => {
      assert.equal(store.capabilities.shared, true, "factory.openSecond is given, so capabilities.shared must be true");
    });

    t("a commit through one handle is seen through the other (jobs, results, listing, counts, conflicts)", async (h) => {
      const a = h.store;
      const b = await h.openSecond(a);
      const job = makeJob();
      await a.commit({ insert: [job] });
      assert.deepStrictEqual(plain(await b.getJob(job.id)), plain(job), "an insert through the first handle");
      const running = bump(job, { status: "running", attempts: 1 });
      await b.commit({ update: [{ job: running, expectedVersion: job.version }] });
      assert.deepStrictEqual(plain(await a.getJob(job.id)), plain(running), "an update through the second handle");
      const done = bump(running, { status: "completed" });
      const result = makeResult(job.id);
      await a.commit({ update: [{ job: done, expectedVersion: running.version }], results: [result] });
      assert.deepStrictEqual(plain(await b.getResult(job.id)), plain(result));
      assert.deepEqual(
        (await b.listJobs({ status: "completed" })).jobs.map((j) => j.id),
        [job.id],
      );
      assert.equal((await b.countByStatus()).completed, 1);
      await rejectsWith(
        b.commit({ insert: [makeJob({ id: job.id })] }),
        "DuplicateJobError",
        "DUPLICATE_JOB",
        "insert of an id the other handle wrote",
      );
      await rejectsWith(
        b.commit({ update: [{ job: bump(running), expectedVersion: running.version }] }),
        "StaleVersionError",
        "STALE_VERSION",
      );
      await rejectsWith(b.commit({ results: [makeResult(job.id)] }), "ResultExistsError", "RESULT_EXISTS");
    });

    t("compare-and-set conflicts across handles have one winner; the losers write nothing", async (h) => {
      const handles: JobStore[] = [h.store, await h.openSecond(h.store)];
      const job = makeJob();
      await h.store.commit({ insert: [job] });
      for (let round = 0; round < 4; round++) {
        const current = (await handles[round % 2]!.getJob(job.id))!;
        const candidates = Array.from({ length: 16 }, (_, i) => bump(current, { payload: { round, writer: i } }));
        const settled = await Promise.allSettled(
          candidates.map((cand, i) =>
            handles[(i + h.rng.int(2)) % 2]!.commit({ update: [{ job: cand, expectedVersion: current.version }] }),
          ),
        );
        const winner = oneWinner(settled, "StaleVersionError", `update round ${round}`);
        for (const s of handles) assert.deepStrictEqual(plain(await s.getJob(job.id)), plain(candidates[winner]));
      }
      const extras = Array.from({ length: 10 }, () => makeJob());
      const id = makeJob().id;
      const inserts = await Promise.allSettled(
        extras.map((extra, i) => handles[i % 2]!.commit({ insert: [extra, makeJob({ id, handler: `writer-${i}` })] })),
      );
      const insertWinner = oneWinner(inserts, "DuplicateJobError", "insert race");
      for (const [i, extra] of extras.entries()) {
        assert.equal((await handles[(i + 1) % 2]!.getJob(extra.id)) !== undefined, i === insertWinner, `batch ${i} landed only if it won`);
      }
      const results = Array.from({ length: 10 }, (_, i) => makeResult(job.id, { output: { writer: i } }));
      const settled = await Promise.allSettled(results.map((r, i) => handles[i % 2]!.commit({ results: [r] })));
      const resultWinner = oneWinner(settled, "ResultExistsError", "result race");
      for (const s of handles) assert.deepStrictEqual(plain(await s.getResult(job.id)), plain(results[resultWinner]));
    });

    c("with claims: two handles claiming concurrently never receive the same job, and together receive every due job", async (h) => {
      const handles: ClaimsJobStore[] = [h.store, await secondClaims(h)];
      for (let round = 0; round < 6; round++) {
        const jobs = randomClaimJobs(h.rng, h.clock.now(), h.agingRate, 10 + h.rng.int(40));
        await handles[round % 2]!.commit({ insert: jobs });
        const got: ClaimedJob[] = [];
        for (;;) {
          const wave = Array.from({ length: 2 + h.rng.int(6) }, (_, i) =>
            handles[i % 2]!.claim({ owner: `engine-${i % 2}`, limit: 1 + h.rng.int(5), leaseMs: LEASE_MS }),
          );
          const batches = await Promise.all(wave);
          for (const batch of batches) got.push(...batch);
          if (batches.every((b) => b.length === 0)) break;
        }
        assertDistinct(idsOf(got), `round ${round}`);
        assert.deepEqual(idsOf(got).sort(), jobs.map((j) => j.id).sort(), `round ${round}: every due job exactly once`);
        for (const s of handles) {
          for (const { job, lease } of got) {
            const stored = await s.getJob(job.id);
            assert.deepEqual(
              [stored?.status, stored?.version],
              ["running", lease.version],
              `round ${round}: both handles see ${job.id} claimed`,
            );
          }
        }
        h.clock.advance(1 + h.rng.int(500));
      }
    });

    c(
      "with claims: changeMark, when the store has it, changes on one handle after a commit, a claim and a reclaim through the other",
      async (h) => {
        const a = h.store;
        const b = await secondClaims(h);
        assert.equal(typeof a.changeMark, typeof b.changeMark, "both handles have changeMark, or neither");
        if (b.changeMark === undefined) return;
        let mark = await b.changeMark();
        // A mark may follow the change a moment later (e.g. by a notification): wait for it, bounded.
        const changed = async (what: string): Promise<void> => {
          let next = await b.changeMark!();
          for (let waited = 0; next === mark && waited < 5000; waited += 5) {
            await new Promise((r) => setTimeout(r, 5));
            next = await b.changeMark!();
          }
          assert.notEqual(next, mark, `the other handle's changeMark must change after ${what}`);
          mark = next;
        };
        await a.commit({ insert: [dueJob(h.clock)] });
        await changed("a commit");
        await a.claim({ owner: "engine-a", limit: 1, leaseMs: 1000 });
        await changed("a claim");
        h.clock.advance(1000);
        await a.reclaimExpired({ limit: 1 });
        await changed("a reclaim");
      },
    );

    c("with claims: a lease taken through one handle is renewed, reclaimed and fences through the other", async (h) => {
      const a = h.store;
      const b = await secondClaims(h);
      const job = dueJob(h.clock);
      await a.commit({ insert: [job] });
      const [held] = await a.claim({ owner: "engine-a", limit: 1, leaseMs: 1000 });
      assert.ok(held !== undefined);
      assert.deepEqual(await b.claim({ owner: "engine-b", limit: 10, leaseMs: 1000 }), [], "the other handle sees the job held");
      assert.deepEqual(await b.leaseOwners(), ["engine-a"]);
      h.clock.advance(800);
      const renewed = await b.renewLeases({ owner: "engine-a", leaseMs: 1000, leases: [held.lease] });
      assert.deepEqual(
        renewed.renewed.map((l) => l.expiresAt),
        [h.clock.now() + 1000],
        "renewed through the other handle",
      );
      h.clock.advance(999);
      assert.deepStrictEqual(plain(await a.reclaimExpired({ limit: 10 })), { retried: [], failed: [] }, "the renewal holds on both");
      h.clock.advance(1);
      assert.deepEqual(
        (await b.reclaimExpired({ limit: 10 })).retried.map((j) => j.id),
        [job.id],
      );
      await rejectsWith(
        a.commit({ update: [{ job: bump(held.job, { status: "completed" }), expectedVersion: held.lease.version }] }),
        "StaleVersionError",
        "STALE_VERSION",
        "the old holder writes through its own handle after the other reclaimed",
      );
      assert.equal((await a.getJob(job.id))?.status, "retrying");
    });
  });
}
