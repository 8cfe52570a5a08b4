import { readdir, readFile, writeFile } from "node:fs/promises";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { describeJobStore, makeJob, makeResult } from "@pyrexis/storage/conformance";
import { tempDir, type TempDir } from "@pyrexis/test-utils";
import { JsonFileJobStore, JSON_FILE_STORE_FORMAT } from "../src/index.js";

// Every store lives in a fresh directory, removed when the test that made it finishes.
describeJobStore(
  { describe, it, beforeEach, afterEach },
  {
    name: "JsonFileJobStore",
    create: async () => JsonFileJobStore.open({ path: tempDir("pyrexis-json-store-").file("jobs.json"), fsync: false }),
    reopen: async (previous) => JsonFileJobStore.open({ path: (previous as JsonFileJobStore).path, fsync: false }),
  },
);

describe("JsonFileJobStore files", () => {
  let tmp: TempDir;
  let path = "";
  beforeEach(() => {
    tmp = tempDir("pyrexis-json-store-");
    path = tmp.file("jobs.json");
  });

  it("writes a readable file and leaves no temp files behind", async () => {
    const store = await JsonFileJobStore.open({ path });
    const job = makeJob();
    await store.commit({ insert: [job], results: [makeResult(job.id)] });
    await store.close();
    const data = JSON.parse(await readFile(path, "utf8"));
    expect(data).toMatchObject({ format: JSON_FILE_STORE_FORMAT, version: 1, jobs: [{ id: job.id }], results: [{ jobId: job.id }] });
    expect(await readdir(tmp.dir)).toEqual(["jobs.json"]);
  });

  it("rejects a file that is not JSON, or not this store's, with IncompatibleStoreError", async () => {
    for (const text of [
      "{ not json",
      "[]",
      JSON.stringify({ format: "other", version: 1, jobs: [], results: [] }),
      JSON.stringify({ format: JSON_FILE_STORE_FORMAT, version: 2, jobs: [], results: [] }),
    ]) {
      await writeFile(path, text);
      await expect(JsonFileJobStore.open({ path })).rejects.toMatchObject({ name: "IncompatibleStoreError", code: "INCOMPATIBLE_STORE" });
    }
  });

  it("rejects a file holding an invalid job with CorruptRecordError naming the job", async () => {
    const good = makeJob();
    const bad = { ...makeJob(), priority: 99 };
    await writeFile(path, JSON.stringify({ format: JSON_FILE_STORE_FORMAT, version: 1, jobs: [good, bad], results: [] }));
    await expect(JsonFileJobStore.open({ path })).rejects.toMatchObject({
      name: "CorruptRecordError",
      code: "CORRUPT_RECORD",
      jobId: bad.id,
    });
  });

  it("a failed write rejects with StoreFailureError and changes nothing in memory", async () => {
    const store = await JsonFileJobStore.open({ path: tmp.file("missing-dir", "jobs.json") });
    const job = makeJob();
    await expect(store.commit({ insert: [job] })).rejects.toMatchObject({ name: "StoreFailureError", code: "STORE_FAILURE" });
    expect(await store.getJob(job.id)).toBeUndefined();
    await store.close();
  });

  it("close waits for commits already accepted", async () => {
    const store = await JsonFileJobStore.open({ path });
    const jobs = Array.from({ length: 5 }, () => makeJob());
    const commits = jobs.map((j) => store.commit({ insert: [j] }));
    await store.close();
    await Promise.all(commits);
    const reopened = await JsonFileJobStore.open({ path });
    expect((await reopened.listJobs()).jobs.map((j) => j.id)).toEqual(jobs.map((j) => j.id));
    await reopened.close();
  });
});
