// The queryJobs capability: MemoryJobStore passes its conformance group, and the group catches
// a store that ignores a filter or does not declare the capability.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { describeQueryJobs, type TestApi } from "../src/conformance/index.js";
import { hasQueryJobs, MemoryJobStore, type JobStore, type ListJobsPage, type QueryJobsQuery } from "../src/index.js";
import { normalizeJobsQuery } from "../src/kit.js";

describeQueryJobs({ describe, it, beforeEach, afterEach }, { name: "MemoryJobStore", create: async () => new MemoryJobStore() });

/** Runs the group against `create` with a collecting test API; returns the titles of failing tests. */
async function failingTests(create: () => JobStore): Promise<string[]> {
  const tests: { name: string; fn: () => unknown }[] = [];
  const api: TestApi = { describe: (_name, fn) => fn(), it: (name, fn) => tests.push({ name, fn }) };
  describeQueryJobs(api, { name: "probe", create: async () => create() });
  const failed: string[] = [];
  for (const t of tests) {
    try {
      await t.fn();
    } catch {
      failed.push(t.name);
    }
  }
  return failed;
}

/** Ignores the handler filter. */
class HandlerBlindStore extends MemoryJobStore {
  override queryJobs(query?: QueryJobsQuery): Promise<ListJobsPage> {
    const { handler: _ignored, ...rest } = query ?? {};
    return super.queryJobs(rest);
  }
}

describe("describeQueryJobs", () => {
  it("fails a store that ignores a filter, and every test of a store without the capability", async () => {
    expect(await failingTests(() => new HandlerBlindStore())).toEqual([
      "every filter, alone and combined, lists exactly the matching jobs in order, across pages",
      "rejects malformed filters with ValidationError",
    ]);
    const plain = new MemoryJobStore();
    const undeclared = Object.assign(Object.create(plain) as MemoryJobStore, { capabilities: { persistent: false } });
    expect(hasQueryJobs(undeclared)).toBe(false);
    expect(await failingTests(() => undeclared)).toHaveLength(4);
  });

  it("normalizeJobsQuery deduplicates values and keeps the listJobs defaults", () => {
    const q = normalizeJobsQuery({ handler: ["a", "a", "b"], minPriority: 2 });
    expect(q.handlers).toEqual(["a", "b"]);
    expect(q).toMatchObject({ limit: 100, order: "asc", minPriority: 2, modes: undefined });
  });
});
