import { describe, expect, it } from "vitest";
import type { Job, JobStatus, Result } from "@pyrexis/models";
import {
  describeCloseSemantics,
  describeClaims,
  describeCommitRules,
  describeJobStore,
  describeListing,
  describeRoundTrips,
  describeShared,
  type ConformanceGroup,
  type JobStoreFactory,
  type TestApi,
} from "../src/conformance/index.js";
import { MemoryJobStore, type CommitBatch, type JobStore, type ListJobsPage, type ListJobsQuery } from "../src/index.js";
import { emptyStatusCounts } from "../src/kit.js";

/** A fake test framework that collects the suite's tests so we can run them and see which fail. */
function collect(group: ConformanceGroup, factory: JobStoreFactory): { name: string; fn: () => Promise<void> }[] {
  const tests: { name: string; fn: () => Promise<void> }[] = [];
  const path: string[] = [];
  const api: TestApi = {
    describe: (name, fn) => {
      path.push(name);
      fn();
      path.pop();
    },
    it: (name, fn) => tests.push({ name: [...path, name].join(" > "), fn }),
  };
  group(api, factory);
  return tests;
}

async function failing(group: ConformanceGroup, create: () => JobStore): Promise<string[]> {
  const failed: string[] = [];
  for (const t of collect(group, { name: "broken", create: async () => create() })) {
    try {
      await t.fn();
    } catch {
      failed.push(t.name);
    }
  }
  return failed;
}

/** Delegates to a MemoryJobStore; subclasses break one rule each. */
class Wrapper implements JobStore {
  readonly capabilities = {};
  protected inner = new MemoryJobStore({ ownership: "clone" });
  commit(batch: CommitBatch): Promise<void> {
    return this.inner.commit(batch);
  }
  getJob(id: string): Promise<Job | undefined> {
    return this.inner.getJob(id);
  }
  getResult(jobId: string): Promise<Result | undefined> {
    return this.inner.getResult(jobId);
  }
  listJobs(query?: ListJobsQuery): Promise<ListJobsPage> {
    return this.inner.listJobs(query);
  }
  countByStatus(): Promise<Record<JobStatus, number>> {
    return this.inner.countByStatus();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

describe("the conformance suite catches broken stores", () => {
  it("passes the reference store (sanity check of the harness)", async () => {
    expect(await failing(describeCommitRules, () => new MemoryJobStore())).toEqual([]);
  });

  it("catches a non-atomic commit (one insert at a time)", async () => {
    class NonAtomic extends Wrapper {
      override async commit(batch: CommitBatch): Promise<void> {
        for (const job of batch.insert ?? []) await this.inner.commit({ insert: [job] });
        await this.inner.commit({ update: batch.update, results: batch.results });
      }
    }
    const failed = await failing(describeCommitRules, () => new NonAtomic());
    expect(failed.some((n) => n.includes("duplicate of an existing id"))).toBe(true);
    expect(failed.some((n) => n.includes("stale expectedVersion"))).toBe(true);
    expect(failed.some((n) => n.includes("seeded random batches"))).toBe(true);
  });

  it("catches a store that hands out its own mutable objects", async () => {
    class Leaky extends Wrapper {
      readonly #jobs = new Map<string, Job>();
      override async commit(batch: CommitBatch): Promise<void> {
        await this.inner.commit(batch);
        for (const j of batch.insert ?? []) this.#jobs.set(j.id, j);
        for (const u of batch.update ?? []) this.#jobs.set(u.job.id, u.job);
      }
      override async getJob(id: string): Promise<Job | undefined> {
        await this.inner.getJob(id);
        return this.#jobs.get(id);
      }
    }
    const failed = await failing(describeRoundTrips, () => new Leaky());
    expect(failed.some((n) => n.includes("mutating objects after passing them to commit"))).toBe(true);
    expect(failed.some((n) => n.includes("mutating returned jobs"))).toBe(true);
  });

  it("catches offset-based pagination (gaps when jobs are inserted between pages)", async () => {
    class OffsetPaging extends Wrapper {
      override async listJobs(query: ListJobsQuery = {}): Promise<ListJobsPage> {
        const offset = query.cursor === undefined ? 0 : Number(query.cursor);
        const all = await this.inner.listJobs({ status: query.status, order: query.order, limit: 10_000 });
        const limit = query.limit ?? 100;
        const jobs = all.jobs.slice(offset, offset + limit);
        return offset + limit < all.jobs.length ? { jobs, cursor: String(offset + limit) } : { jobs };
      }
    }
    const failed = await failing(describeListing, () => new OffsetPaging());
    expect(failed.some((n) => n.includes("no gaps or repeats"))).toBe(true);
    expect(failed.some((n) => n.includes("malformed cursor"))).toBe(true);
  });

  it("catches a store that keeps working after close and misses status keys", async () => {
    class NeverCloses extends Wrapper {
      override async close(): Promise<void> {}
      override async countByStatus(): Promise<Record<JobStatus, number>> {
        const c: Partial<Record<JobStatus, number>> = { ...emptyStatusCounts() };
        delete c.created;
        return c as Record<JobStatus, number>;
      }
    }
    const failed = await failing(describeCloseSemantics, () => new NeverCloses());
    expect(failed.some((n) => n.includes("every method rejects with StoreClosedError"))).toBe(true);
  });
});

describe("suite arguments", () => {
  const factory: JobStoreFactory = { name: "x", create: async () => new MemoryJobStore() };
  const api: TestApi = { describe: () => undefined, it: () => undefined };
  it.each([
    [null, factory, /api must be an object/],
    [{ it: api.it }, factory, /api\.describe must be a function/],
    [{ describe: api.describe }, factory, /api\.it must be a function/],
    [{ ...api, afterEach: 1 }, factory, /api\.afterEach/],
    [api, undefined, /factory must be an object/],
    [api, { create: factory.create }, /factory\.name/],
    [api, { name: "x" }, /factory\.create/],
    [api, { ...factory, reopen: "no" }, /factory\.reopen/],
    [api, { ...factory, seed: 1.5 }, /factory\.seed/],
    [api, { ...factory, openSecond: "no" }, /factory\.openSecond must be a function/],
    [api, { ...factory, agingRate: -1 }, /factory\.agingRate must be a finite number/],
    [api, { ...factory, agingRate: Number.NaN }, /factory\.agingRate/],
  ])("throws a TypeError naming what is missing (%#)", (a, f, message) => {
    expect(() => describeJobStore(a as TestApi, f as JobStoreFactory)).toThrow(TypeError);
    expect(() => describeJobStore(a as TestApi, f as JobStoreFactory)).toThrow(message);
    expect(() => describeListing(a as TestApi, f as JobStoreFactory)).toThrow(TypeError);
    expect(() => describeClaims(a as TestApi, f as JobStoreFactory)).toThrow(message);
    expect(() => describeShared(a as TestApi, f as JobStoreFactory)).toThrow(message);
  });

  it("a factory whose create() does not return a store fails the test with a TypeError", async () => {
    const tests = collect(describeCloseSemantics, { name: "bad", create: async () => ({}) as JobStore });
    await expect(tests[0]!.fn()).rejects.toThrow(/without commit\(\)/);
  });
});
