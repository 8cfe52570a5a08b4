// The claims and shared cases of the conformance suite: they pass on stores that keep the rules
// (MemoryJobStore through separate handles, with reopen), and each catches a store that breaks one.
import { describe, expect, it, beforeEach, afterEach } from "vitest";
import type { Clock, Job, JobStatus, Result } from "@pyrexis/models";
import {
  describeClaims,
  describeJobStore,
  describeShared,
  type ConformanceGroup,
  type JobStoreFactory,
  type StoreOpenOptions,
  type TestApi,
  type TestContext,
} from "../src/conformance/index.js";
import {
  MemoryJobStore,
  StoreClosedError,
  type ClaimedJob,
  type ClaimMethods,
  type ClaimRequest,
  type CommitBatch,
  type JobStore,
  type ListJobsPage,
  type ListJobsQuery,
  type ReclaimReport,
  type ReclaimRequest,
  type RenewReport,
  type RenewRequest,
  type StoreCapabilities,
} from "../src/index.js";
import { claimedRecord, compareClaimOrder, isClaimable } from "../src/kit.js";

/**
 * One handle on a MemoryJobStore that outlives it: closing a handle leaves the data, so
 * "reopen" and "a second handle" are new handles on the same store, as files or connections are.
 */
class Handle implements JobStore, ClaimMethods {
  capabilities: StoreCapabilities = { persistent: true, shared: true, claims: true };
  #closed = false;
  constructor(readonly data: MemoryJobStore) {}
  #open(): MemoryJobStore {
    if (this.#closed) throw new StoreClosedError("handle is closed");
    return this.data;
  }
  async commit(batch: CommitBatch): Promise<void> {
    return this.#open().commit(batch);
  }
  async getJob(id: string): Promise<Job | undefined> {
    return this.#open().getJob(id);
  }
  async getResult(jobId: string): Promise<Result | undefined> {
    return this.#open().getResult(jobId);
  }
  async listJobs(query?: ListJobsQuery): Promise<ListJobsPage> {
    return this.#open().listJobs(query);
  }
  async countByStatus(): Promise<Record<JobStatus, number>> {
    return this.#open().countByStatus();
  }
  async claim(request: ClaimRequest): Promise<ClaimedJob[]> {
    return this.#open().claim(request);
  }
  async renewLeases(request: RenewRequest): Promise<RenewReport> {
    return this.#open().renewLeases(request);
  }
  async reclaimExpired(request: ReclaimRequest): Promise<ReclaimReport> {
    return this.#open().reclaimExpired(request);
  }
  async leaseOwners(): Promise<string[]> {
    return this.#open().leaseOwners();
  }
  async changeMark(): Promise<number> {
    return this.#open().changeMark();
  }
  async close(): Promise<void> {
    this.#closed = true;
  }
}

/** A JobStore without any capability: MemoryJobStore's JobStore methods only. */
class PlainStore implements JobStore {
  readonly capabilities: StoreCapabilities = {};
  readonly #inner = new MemoryJobStore();
  commit(batch: CommitBatch): Promise<void> {
    return this.#inner.commit(batch);
  }
  getJob(id: string): Promise<Job | undefined> {
    return this.#inner.getJob(id);
  }
  getResult(jobId: string): Promise<Result | undefined> {
    return this.#inner.getResult(jobId);
  }
  listJobs(query?: ListJobsQuery): Promise<ListJobsPage> {
    return this.#inner.listJobs(query);
  }
  countByStatus(): Promise<Record<JobStatus, number>> {
    return this.#inner.countByStatus();
  }
  close(): Promise<void> {
    return this.#inner.close();
  }
}

const handles: JobStoreFactory = {
  name: "MemoryJobStore through handles (reopen, openSecond)",
  create: async (options) => new Handle(new MemoryJobStore(options)),
  reopen: async (previous) => new Handle((previous as Handle).data),
  openSecond: async (store) => new Handle((store as Handle).data),
};
describeJobStore({ describe, it, beforeEach, afterEach }, handles);
describeJobStore(
  { describe, it, beforeEach, afterEach },
  {
    ...handles,
    name: "MemoryJobStore, agingRate 2",
    create: async (options) => new Handle(new MemoryJobStore({ ...options, agingRate: 2 })),
    agingRate: 2,
  },
);

interface Collected {
  name: string;
  run: () => Promise<"passed" | "failed" | "skipped">;
}

/** A fake test framework that collects the suite's tests so we can run them and see which fail. */
function collect(group: ConformanceGroup, factory: JobStoreFactory): Collected[] {
  const tests: Collected[] = [];
  const path: string[] = [];
  const api: TestApi = {
    describe: (name, fn) => {
      path.push(name);
      fn();
      path.pop();
    },
    it: (name, fn) =>
      tests.push({
        name: [...path, name].join(" > "),
        run: async () => {
          let skipped = false;
          try {
            await fn({ skip: () => void (skipped = true) });
          } catch {
            return "failed";
          }
          return skipped ? "skipped" : "passed";
        },
      }),
  };
  group(api, factory);
  return tests;
}

async function outcomes(group: ConformanceGroup, factory: JobStoreFactory): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = { passed: [], failed: [], skipped: [] };
  for (const t of collect(group, factory)) out[await t.run()]!.push(t.name);
  return out;
}

/** Delegates to a MemoryJobStore on the suite's clock; subclasses break one rule each. */
class Broken extends Handle {
  constructor(options?: StoreOpenOptions) {
    super(new MemoryJobStore(options));
  }
}

function brokenFactory(make: (options?: StoreOpenOptions) => JobStore): JobStoreFactory {
  return { name: "broken", create: async (options) => make(options), openSecond: async (store) => store };
}

async function failedClaimsCases(make: (options?: StoreOpenOptions) => JobStore): Promise<string[]> {
  return (await outcomes(describeClaims, brokenFactory(make))).failed!;
}

const has = (failed: string[], fragment: string): boolean => failed.some((n) => n.includes(fragment));

describe("the claims cases catch broken stores", () => {
  it("pass the reference store", async () => {
    const o = await outcomes(
      describeClaims,
      brokenFactory((options) => new Broken(options)),
    );
    expect(o.failed).toEqual([]);
    expect(o.skipped).toEqual([]);
    expect(o.passed!.length).toBeGreaterThan(25);
  });

  it("are skipped for a store without the capability, and hasClaims agreeing is checked", async () => {
    const p = await outcomes(describeClaims, { name: "plain", create: async () => new PlainStore() });
    expect(p.failed).toEqual([]);
    expect(p.passed).toEqual([expect.stringContaining("hasClaims(store) is true exactly when")]);
    expect(p.skipped!.length).toBeGreaterThan(25);
  });

  it("catch a store that declares claims without all the methods", async () => {
    const failed = await failedClaimsCases((options) => {
      const s = new Broken(options) as Partial<Broken>;
      Object.defineProperty(s, "leaseOwners", { value: undefined });
      return s as JobStore;
    });
    expect(has(failed, "hasClaims(store) is true exactly when")).toBe(true);
    expect(has(failed, "a claim writes running")).toBe(true);
  });

  it("catch a store that ignores the injected clock", async () => {
    const failed = await failedClaimsCases(() => new Broken());
    expect(has(failed, "lease to now + leaseMs")).toBe(true);
    expect(has(failed, "nothing before the lease expires")).toBe(true);
  });

  it("catch a claim order that ignores aging (priority, then id)", async () => {
    class NoAging extends Broken {
      override async claim(request: ClaimRequest): Promise<ClaimedJob[]> {
        const all = await super.claim({ ...request, limit: 1000 });
        all.sort((a, b) => b.job.priority - a.job.priority || (a.job.id < b.job.id ? -1 : 1));
        const keep = all.slice(0, request.limit);
        // Hand the rest back, due at once and uncounted, as they were.
        for (const c of all.slice(request.limit)) {
          const back = { ...c.job, status: "pending" as const, attempts: c.job.attempts - 1, version: c.job.version + 1 };
          await this.commit({ update: [{ job: back, expectedVersion: c.lease.version }] });
        }
        return keep;
      }
    }
    const failed = await failedClaimsCases((options) => new NoAging(options));
    expect(has(failed, "claims come in claim order")).toBe(true);
    expect(has(failed, "seeded random run")).toBe(true);
  });

  it("catch a claim that does not count the attempt", async () => {
    class Uncounted extends Broken {
      override async claim(request: ClaimRequest): Promise<ClaimedJob[]> {
        const claimed = await super.claim(request);
        return claimed.map((c) => ({ ...c, job: { ...c.job, attempts: c.job.attempts - 1 } }));
      }
    }
    const failed = await failedClaimsCases((options) => new Uncounted(options));
    expect(has(failed, "a claim writes running, attempts + 1")).toBe(true);
  });

  it("catch a claim that is not atomic (read, yield, write): concurrent claimers get the same job", async () => {
    class Racy extends Broken {
      #clock: Pick<Clock, "now">;
      constructor(options?: StoreOpenOptions) {
        super(options);
        this.#clock = options?.clock ?? { now: () => Date.now() };
      }
      override async claim(request: ClaimRequest): Promise<ClaimedJob[]> {
        const now = this.#clock.now();
        const page = await this.listJobs({ status: ["pending", "retrying"], limit: 10_000 });
        const due = page.jobs.filter((j) => isClaimable(j, now)).sort((a, b) => compareClaimOrder(a, b, 0.1));
        await new Promise((resolve) => setImmediate(resolve)); // other claimers read the same jobs meanwhile
        const out: ClaimedJob[] = [];
        for (const job of due.slice(0, request.limit)) {
          const next = claimedRecord(job, now);
          await this.commit({ update: [{ job: next, expectedVersion: job.version }] }).catch(() => undefined);
          out.push({ job: next, lease: { jobId: job.id, version: next.version, owner: request.owner, expiresAt: now + request.leaseMs } });
        }
        return out;
      }
    }
    const failed = await failedClaimsCases((options) => new Racy(options));
    expect(has(failed, "concurrent claimers never receive the same job")).toBe(true);
  });

  it("catch a renewal that extends other owners' leases", async () => {
    class RenewsAnyone extends Broken {
      readonly #owners = new Map<string, string>();
      override async claim(request: ClaimRequest): Promise<ClaimedJob[]> {
        const claimed = await super.claim(request);
        for (const c of claimed) this.#owners.set(c.job.id, c.lease.owner);
        return claimed;
      }
      override async renewLeases(request: RenewRequest): Promise<RenewReport> {
        const reports = await Promise.all(
          request.leases.map((l) => super.renewLeases({ ...request, owner: this.#owners.get(l.jobId) ?? request.owner, leases: [l] })),
        );
        return {
          renewed: reports.flatMap((r) => r.renewed),
          lost: reports.flatMap((r) => r.lost),
          cancelled: reports.flatMap((r) => r.cancelled),
        };
      }
    }
    const failed = await failedClaimsCases((options) => new RenewsAnyone(options));
    expect(has(failed, "renewal reports lost")).toBe(true);
  });

  it("catch a reclaim that does not wait for expiry", async () => {
    class Eager extends Broken {
      override async reclaimExpired(request: ReclaimRequest): Promise<ReclaimReport> {
        return super.reclaimExpired({ ...request, deadOwners: await this.leaseOwners() });
      }
    }
    const failed = await failedClaimsCases((options) => new Eager(options));
    expect(has(failed, "nothing before the lease expires")).toBe(true);
    expect(has(failed, "renewal extends a held lease")).toBe(true);
    expect(has(failed, "seeded random run")).toBe(true);
  });
});

describe("the shared cases", () => {
  it("catch a second handle that does not see the first one's data", async () => {
    const o = await outcomes(describeShared, {
      name: "separate",
      create: async (options) => new Broken(options),
      openSecond: async (_store, options) => new Broken(options),
    });
    expect(has(o.failed!, "a commit through one handle is seen through the other")).toBe(true);
    expect(has(o.failed!, "two handles claiming concurrently")).toBe(true);
  });

  it("check openSecond and capabilities.shared both ways", async () => {
    const declaresWithout = await outcomes(describeShared, { name: "no openSecond", create: async () => new MemoryJobStore() });
    expect(declaresWithout.failed).toEqual([expect.stringContaining("without factory.openSecond")]);
    const offersUndeclared = await outcomes(describeShared, {
      name: "undeclared",
      create: async () => new PlainStore(),
      openSecond: async (store) => store,
    });
    expect(has(offersUndeclared.failed!, "with factory.openSecond, the store declares capabilities.shared")).toBe(true);
  });

  it("close the second handles the suite opened", async () => {
    const opened: Handle[] = [];
    const factory: JobStoreFactory = {
      ...handles,
      openSecond: async (store) => {
        const h = new Handle((store as Handle).data);
        opened.push(h);
        return h;
      },
    };
    const o = await outcomes(describeShared, factory);
    expect(o.failed).toEqual([]);
    expect(opened.length).toBeGreaterThan(0);
    for (const h of opened) await expect(h.countByStatus()).rejects.toBeInstanceOf(StoreClosedError);
  });
});

describe("test functions", () => {
  it("declare no parameter, so jest does not take one for a done callback, and still get the context", async () => {
    const tests: { name: string; fn: (context?: TestContext) => Promise<void> }[] = [];
    const api: TestApi = { describe: (_name, fn) => fn(), it: (name, fn) => tests.push({ name, fn }) };
    describeJobStore(api, { name: "plain", create: async () => new PlainStore() });
    expect(tests.length).toBeGreaterThan(80);
    expect(new Set(tests.map((t) => t.fn.length))).toEqual(new Set([0]));
    const skipped: string[] = [];
    const order = tests.find((t) => t.name.startsWith("claims come in claim order"))!;
    await order.fn({ skip: (note) => skipped.push(note ?? "") });
    expect(skipped).toEqual(["plain does not declare capabilities.claims"]);
  });
});

describe("factory options", () => {
  it("reopen and openSecond get the clock the store was created with", async () => {
    const created = new Set<unknown>();
    const passed: unknown[] = [];
    const f: JobStoreFactory = {
      name: "spy",
      create: async (options) => {
        created.add(options?.clock);
        return new Handle(new MemoryJobStore(options));
      },
      reopen: async (previous, options) => {
        passed.push(options?.clock);
        return new Handle((previous as Handle).data);
      },
      openSecond: async (store, options) => {
        passed.push(options?.clock);
        return new Handle((store as Handle).data);
      },
    };
    const claimsRun = await outcomes(describeClaims, f);
    const sharedRun = await outcomes(describeShared, f);
    expect([...claimsRun.failed!, ...sharedRun.failed!]).toEqual([]);
    const clocked = passed.filter((c) => c !== undefined);
    expect(clocked.length).toBeGreaterThan(3);
    for (const clock of clocked) expect(created.has(clock)).toBe(true);
  });

  it("create gets { clock } in the claims cases and no argument elsewhere", async () => {
    const seen: unknown[][] = [];
    const f: JobStoreFactory = {
      name: "spy",
      create: async (...args: unknown[]) => {
        seen.push(args);
        return new MemoryJobStore(args[0] as StoreOpenOptions | undefined);
      },
      openSecond: async (store) => store,
    };
    const o = await outcomes(describeClaims, f);
    expect(o.failed).toEqual([]);
    expect(seen.every((a) => a.length === 0 || (a.length === 1 && typeof (a[0] as StoreOpenOptions).clock?.now === "function"))).toBe(true);
    expect(seen.filter((a) => a.length === 1).length).toBeGreaterThan(25);
    expect(seen.filter((a) => a.length === 0)).toHaveLength(1);
  });
});
