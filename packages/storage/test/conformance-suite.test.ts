import { describe, expect, it } from "vitest";
import type { Job, JobStatus, Result } from "@pyrexis/models";
import {
  describeCloseSemantics,
  describeClaims,
  describeCommitRules,
  describeDependencies,
  describeJobStore,
  describeListing,
  describePrune,
  describeRoundTrips,
  describeShared,
  type ConformanceGroup,
  type JobStoreFactory,
  type TestApi,
} from "../src/conformance/index.js";
import {
  MemoryJobStore,
  type CommitBatch,
  type PruneReport,
  type PruneRequest,
  type JobStore,
  type ListJobsPage,
  type ListJobsQuery,
} from "../src/index.js";
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

describe("the prune cases catch broken prune stores", () => {
  /** Prunes through the reference store; subclasses break one rule each. */
  class Pruning extends Wrapper {
    override readonly capabilities = { prune: true };
    pruneFinished(request: PruneRequest): Promise<PruneReport> {
      return this.inner.pruneFinished(request);
    }
  }

  it("passes the reference store", async () => {
    expect(await failing(describePrune, () => new Pruning())).toEqual([]);
  });

  it("catches a store that also deletes old running jobs", async () => {
    class DeletesRunning extends Pruning {
      override async pruneFinished(request: PruneRequest): Promise<PruneReport> {
        const report = await this.inner.pruneFinished(request);
        const running = await this.inner.listJobs({ status: "running", limit: 10_000 });
        // A store that forgets the status filter: rewrites the running jobs as finished, then prunes them.
        for (const job of running.jobs) {
          await this.inner.commit({
            update: [{ job: { ...job, status: "cancelled", version: job.version + 1 }, expectedVersion: job.version }],
          });
        }
        const more = await this.inner.pruneFinished({ keepLatest: 0, limit: 10_000, status: "cancelled" });
        return { deleted: [...report.deleted, ...more.deleted.filter((id) => running.jobs.some((j) => j.id === id))], more: report.more };
      }
    }
    const failed = await failing(describePrune, () => new DeletesRunning());
    expect(failed.some((n) => n.includes("claimed running job with old timestamps"))).toBe(true);
    expect(failed.some((n) => n.includes("unfinished jobs of any age stay"))).toBe(true);
  });

  it("catches an unbounded prune and one that leaves results behind", async () => {
    class Unbounded extends Pruning {
      override pruneFinished(request: PruneRequest): Promise<PruneReport> {
        return this.inner.pruneFinished({ ...request, limit: 10_000 });
      }
    }
    expect((await failing(describePrune, () => new Unbounded())).some((n) => n.includes("limit bounds every call"))).toBe(true);
    class KeepsResults extends Pruning {
      // Remembers every result it was given and serves it even after its job was pruned.
      readonly #orphans = new Map<string, Result>();
      override async commit(batch: CommitBatch): Promise<void> {
        await this.inner.commit(batch);
        for (const r of batch.results ?? []) this.#orphans.set(r.jobId, r);
      }
      override async getResult(jobId: string): Promise<Result | undefined> {
        return (await this.inner.getResult(jobId)) ?? this.#orphans.get(jobId);
      }
    }
    expect((await failing(describePrune, () => new KeepsResults())).some((n) => n.includes("with their results"))).toBe(true);
  });

  it("catches a store that accepts a request naming an unfinished status", async () => {
    class Lenient extends Pruning {
      override async pruneFinished(request: PruneRequest): Promise<PruneReport> {
        const statuses = [request.status ?? []].flat().filter((s) => s === "completed" || s === "failed" || s === "cancelled");
        if (request.status !== undefined && statuses.length === 0) return { deleted: [], more: false };
        return this.inner.pruneFinished({ ...request, status: statuses.length === 0 ? undefined : statuses });
      }
    }
    expect((await failing(describePrune, () => new Lenient())).some((n) => n.includes("malformed request"))).toBe(true);
  });

  it("skips the cases for a store that does not declare the capability", async () => {
    const skipped: string[] = [];
    const tests: { name: string; fn: (c: { skip: (note?: string) => void }) => Promise<void> }[] = [];
    describePrune(
      { describe: (_n, fn) => fn(), it: (name, fn) => tests.push({ name, fn }) },
      { name: "plain", create: async () => new Wrapper() },
    );
    for (const t of tests) await t.fn({ skip: () => skipped.push(t.name) });
    expect(skipped.length).toBe(tests.length);
    expect(tests.length).toBeGreaterThan(5);
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

describe("the dependencies cases catch broken dependency stores", () => {
  /** Declares the capability over the reference store; subclasses break one rule each. */
  class Resolving extends Wrapper {
    override readonly capabilities = { dependencies: true };
  }

  it("passes the reference store", async () => {
    expect(await failing(describeDependencies, () => new Resolving())).toEqual([]);
  });

  it("catches a store that runs dependents at once (inserts them pending) and one that checks no parents", async () => {
    class Eager extends Resolving {
      override commit(batch: CommitBatch): Promise<void> {
        const insert = batch.insert?.map((j) => (j.status === "waiting" ? { ...j, status: "pending" as const, dependsOn: undefined } : j));
        return this.inner.commit({ ...batch, insert });
      }
    }
    const failed = await failing(describeDependencies, () => new Eager());
    expect(failed.some((n) => n.includes("unfinished parent waits"))).toBe(true);
    expect(failed.some((n) => n.includes("unknown parent rejects the whole batch"))).toBe(true);
    expect(failed.some((n) => n.includes("cycle"))).toBe(true);
  });

  it("catches a store that keeps dependents waiting but never resolves them", async () => {
    class Inert extends Resolving {
      // Stores the waiting record but not its edges (dependsOn dropped): nothing ever releases or ends it.
      override commit(batch: CommitBatch): Promise<void> {
        const insert = batch.insert?.map((j) => (j.dependsOn === undefined ? j : { ...j, dependsOn: undefined }));
        return this.inner.commit({ ...batch, insert });
      }
    }
    const failed = await failing(describeDependencies, () => new Inert());
    expect(failed.some((n) => n.includes("the last parent to complete releases the dependent"))).toBe(true);
    expect(failed.some((n) => n.includes("fails its dependents transitively"))).toBe(true);
  });
});
