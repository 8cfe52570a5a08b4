import assert from "node:assert/strict";
import { JOB_STATUSES, type JobStatus } from "@pyrexis/models";
import { bump, makeJob } from "./data.js";
import { assertAllStatusKeys, rejectsWith, storeTest, tryMutate, type JobStoreFactory, type TestApi } from "./harness.js";

/** Status counts: every status key present (0 when none), kept exact by inserts, updates and rejected batches. */
export function counts(api: TestApi, factory: JobStoreFactory, seed: number): void {
  const t = (title: string, body: Parameters<typeof storeTest>[4]): void => storeTest(api, factory, seed, title, body);
  api.describe("counts", () => {
    t("an empty store counts 0 for every status", async ({ store }) => {
      const counts = await store.countByStatus();
      assertAllStatusKeys(counts);
      for (const s of JOB_STATUSES) assert.equal(counts[s], 0, s);
    });

    t("counts follow inserts and updates, and rejected batches change nothing", async ({ store, rng }) => {
      const expected = Object.fromEntries(JOB_STATUSES.map((s) => [s, 0])) as Record<JobStatus, number>;
      const jobs = Array.from({ length: 50 }, () => makeJob({ status: rng.pick(JOB_STATUSES) }));
      await store.commit({ insert: jobs });
      for (const j of jobs) expected[j.status]++;
      assert.deepStrictEqual({ ...(await store.countByStatus()) }, expected);
      const moved = jobs.slice(0, 20).map((j) => ({ job: bump(j, { status: rng.pick(JOB_STATUSES) }), expectedVersion: j.version }));
      await store.commit({ update: moved });
      for (const [i, u] of moved.entries()) {
        expected[jobs[i]!.status]--;
        expected[u.job.status]++;
      }
      assert.deepStrictEqual({ ...(await store.countByStatus()) }, expected);
      await rejectsWith(
        store.commit({
          insert: [makeJob({ status: "failed" })],
          update: [{ job: bump(jobs[30]!, { status: "cancelled", version: 10 }), expectedVersion: 9 }],
        }),
        "StaleVersionError",
        "STALE_VERSION",
      );
      const counts = await store.countByStatus();
      assertAllStatusKeys(counts);
      assert.deepStrictEqual({ ...counts }, expected, "a rejected batch must not change counts");
    });

    t("mutating the returned counts does not change the store's", async ({ store }) => {
      await store.commit({ insert: [makeJob()] });
      const counts = await store.countByStatus();
      tryMutate(() => {
        counts.pending = 1000;
      });
      assert.equal((await store.countByStatus()).pending, 1);
    });
  });
}
