// The README's "Using MemoryJobStore" example, kept compiling and passing here.
import { expect, it } from "vitest";
import { createJob, parseJobSpec, transition } from "@pyrexis/models";
import { MemoryJobStore, StaleVersionError } from "../src/index.js";

it("README example runs", async () => {
  const store = new MemoryJobStore();
  const job = createJob(parseJobSpec({ handler: "summarize", payload: { doc: "a.txt" } }), Date.now());
  await store.commit({ insert: [job] });

  const running = transition(job, "running", Date.now(), { attempts: 1 });
  await store.commit({ update: [{ job: running, expectedVersion: job.version }] });

  // A second writer holding the old version loses the compare-and-set:
  await expect(store.commit({ update: [{ job: running, expectedVersion: job.version }] })).rejects.toBeInstanceOf(StaleVersionError);

  const page = await store.listJobs({ status: "running", limit: 50 });
  expect(page.jobs.map((j) => j.id)).toEqual([job.id]);
  expect((await store.countByStatus()).running).toBe(1);
  await store.close();
});
