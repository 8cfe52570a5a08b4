import type { JobStore } from "../job-store.js";
import { rejectsWith, storeTest, type JobStoreFactory, type TestApi } from "./harness.js";

/** Argument checks of the read methods: a non-string id rejects with `ValidationError`. */
export function argumentChecks(api: TestApi, factory: JobStoreFactory, seed: number): void {
  api.describe("argument checks", () => {
    storeTest(api, factory, seed, "getJob/getResult with a non-string id reject with ValidationError", async ({ store }) => {
      for (const bad of [undefined, null, 42, {}, ["id"]]) {
        await rejectsWith(store.getJob(bad as string), "ValidationError", "VALIDATION", `getJob(${JSON.stringify(bad)})`);
        await rejectsWith(store.getResult(bad as string), "ValidationError", "VALIDATION", `getResult(${JSON.stringify(bad)})`);
      }
      const s: JobStore = store;
      await rejectsWith(s.commit(undefined as never), "ValidationError", "VALIDATION", "commit()");
    });
  });
}
