import { readFileSync } from "node:fs";
import { afterEach, expect, it } from "vitest";
import { createJob, parseJobSpec, transition } from "@pyrexis/models";
import { SqliteJobStore } from "../src/index.js";
import { tempDir } from "./helpers.js";

const tmp = tempDir();
afterEach(() => tmp.remove());

it("the README example runs as written", async () => {
  const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
  expect(readme).toContain(`const started = transition(job, "running", Date.now(), { attempts: 1 });`);
  expect(readme).toContain(`const page = await store.listJobs({ status: ["running", "pending"], limit: 50 });`);

  const store = await SqliteJobStore.open({ path: tmp.file("pyrexis.db") });
  const job = createJob(parseJobSpec({ handler: "embed", payload: { text: "hello" } }), Date.now());
  await store.commit({ insert: [job] });
  const started = transition(job, "running", Date.now(), { attempts: 1 });
  await store.commit({ update: [{ job: started, expectedVersion: job.version }] });
  const page = await store.listJobs({ status: ["running", "pending"], limit: 50 });
  expect(page.jobs).toEqual([started]);
  expect((await store.countByStatus()).running).toBe(1);
  await store.close();
});
