import assert from "node:assert/strict";
import { bump, makeJob, makeResult } from "./data.js";
import { plain, rejectsWith, snapshot, storeTest, type JobStoreFactory, type TestApi } from "./harness.js";

/**
 * Persistence across `close()` + `factory.reopen()`: jobs, versions, results, counts and listing
 * order survive; rejected batches left nothing behind; the rules still hold on reopened data.
 * Runs only when the factory has `reopen`; otherwise checks the store does not declare
 * `capabilities.persistent` (a persistent store must be tested as one).
 */
export function persistence(api: TestApi, factory: JobStoreFactory, seed: number): void {
  const t = (title: string, body: Parameters<typeof storeTest>[4]): void => storeTest(api, factory, seed, title, body);
  api.describe("persistence", () => {
    if (!factory.reopen) {
      t("without factory.reopen, the store does not declare capabilities.persistent", async ({ store }) => {
        assert.notEqual(
          store.capabilities.persistent,
          true,
          "a store declaring persistent: true needs factory.reopen so the suite can prove it",
        );
      });
      return;
    }
    t("with factory.reopen, the store declares capabilities.persistent", async ({ store }) => {
      assert.equal(store.capabilities.persistent, true, "factory.reopen is given, so capabilities.persistent must be true");
    });

    t("jobs, updates, results, counts and order survive close + reopen; rejected batches left nothing", async (h) => {
      const a = makeJob({ payload: { text: "persist 😀", list: [1, { x: null }] }, timeoutMs: 100 });
      const b = makeJob({ lastError: { name: "Error", message: "boom", code: "X" } });
      const c = makeJob({ createdAt: a.createdAt });
      await h.store.commit({ insert: [a, b, c] });
      const a1 = bump(a, { status: "running", attempts: 1 });
      await h.store.commit({ update: [{ job: a1, expectedVersion: 0 }], results: [makeResult(c.id, { output: "done ✓" })] });
      const ghost = makeJob();
      await rejectsWith(
        h.store.commit({ insert: [ghost], update: [{ job: bump(b, { version: 8 }), expectedVersion: 7 }] }),
        "StaleVersionError",
        "STALE_VERSION",
      );
      const ids = [a.id, b.id, c.id, ghost.id];
      const before = await snapshot(h.store, ids);
      const listing = plain(await h.store.listJobs());
      const reopened = await h.reopen(h.store);
      assert.deepStrictEqual(await snapshot(reopened, ids), before);
      assert.deepStrictEqual(plain(await reopened.listJobs()), listing);
      assert.equal(await reopened.getJob(ghost.id), undefined, "a rejected insert must not appear after reopen");
      const again = await h.reopen(reopened);
      assert.deepStrictEqual(await snapshot(again, ids), before, "a second reopen sees the same data");
    });

    t("the commit rules hold against reopened data", async (h) => {
      const a = makeJob();
      const b = makeJob();
      await h.store.commit({ insert: [a, b], results: [makeResult(b.id)] });
      const store = await h.reopen(h.store);
      await rejectsWith(store.commit({ insert: [makeJob({ id: a.id })] }), "DuplicateJobError", "DUPLICATE_JOB");
      await rejectsWith(store.commit({ results: [makeResult(b.id)] }), "ResultExistsError", "RESULT_EXISTS");
      await rejectsWith(
        store.commit({ update: [{ job: bump(a, { version: 2 }), expectedVersion: 1 }] }),
        "StaleVersionError",
        "STALE_VERSION",
      );
      const a1 = bump(a, { status: "running" });
      await store.commit({ update: [{ job: a1, expectedVersion: 0 }], insert: [makeJob()] });
      const store2 = await h.reopen(store);
      assert.deepStrictEqual(plain(await store2.getJob(a.id)), plain(a1));
      assert.equal((await store2.countByStatus()).running, 1);
    });

    t("a cursor from before reopen still continues the listing", async (h) => {
      const jobs = Array.from({ length: 10 }, () => makeJob());
      await h.store.commit({ insert: jobs });
      const first = await h.store.listJobs({ limit: 4 });
      const store = await h.reopen(h.store);
      const rest = await store.listJobs({ cursor: first.cursor, limit: 100 });
      assert.deepStrictEqual(
        [...first.jobs, ...rest.jobs].map((j) => j.id),
        jobs.map((j) => j.id),
      );
    });
  });
}
