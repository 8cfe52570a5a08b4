import { createJob, parseJobSpec, type Job, type JobSpecInput } from "../src/index.js";

/** A fresh `pending` job at time `now` (id fixed so messages are predictable). */
export function makeJob(overrides: Partial<JobSpecInput> = {}, now = 1_000): Job {
  return createJob(parseJobSpec({ id: "job-1", handler: "h", ...overrides }), now);
}

/** The same job forced into `status` (for table tests; bypasses the state machine on purpose). */
export function jobIn(status: Job["status"], overrides: Partial<Job> = {}): Job {
  return { ...makeJob(), status, ...overrides };
}
