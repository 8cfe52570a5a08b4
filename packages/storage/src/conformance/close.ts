import assert from "node:assert/strict";
import type { CommitBatch, JobStore } from "../job-store.js";
import { makeJob, makeResult } from "./data.js";
import { rejectsWith, storeTest, type JobStoreFactory, type TestApi } from "./harness.js";

const calls: [string, (s: JobStore) => Promise<unknown>][] = [
  ["commit", (s) => s.commit({ insert: [makeJob()] })],
  ["commit (empty)", (s) => s.commit({})],
  ["getJob", (s) => s.getJob("x")],
  ["getResult", (s) => s.getResult("x")],
  ["listJobs", (s) => s.listJobs()],
  ["countByStatus", (s) => s.countByStatus()],
];

/** Close semantics: idempotent (also concurrently), and every method rejects with `StoreClosedError` afterwards. */
export function closeSemantics(api: TestApi, factory: JobStoreFactory, seed: number): void {
  const t = (title: string, body: Parameters<typeof storeTest>[4]): void => storeTest(api, factory, seed, title, body);
  api.describe("close", () => {
    t("after close() every method rejects with StoreClosedError", async ({ store }) => {
      const job = makeJob();
      await store.commit({ insert: [job], results: [makeResult(job.id)] });
      await store.close();
      for (const [name, call] of calls) await rejectsWith(call(store), "StoreClosedError", "STORE_CLOSED", name);
      // Even invalid arguments: closed is reported first, so callers see one clear cause.
      await rejectsWith(store.commit(null as unknown as CommitBatch), "StoreClosedError", "STORE_CLOSED", "commit(null)");
    });

    t("close() is idempotent, also when called concurrently", async ({ store }) => {
      await store.commit({ insert: [makeJob()] });
      await Promise.all([store.close(), store.close(), store.close()]);
      await store.close();
      await rejectsWith(store.countByStatus(), "StoreClosedError", "STORE_CLOSED");
    });

    t("a never-used store closes cleanly", async ({ store }) => {
      await store.close();
      assert.ok(true);
    });
  });
}
