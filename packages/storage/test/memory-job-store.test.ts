import { describe, it, beforeEach, afterEach, expect } from "vitest";
import { ManualClock, type Job } from "@pyrexis/models";
import { bump, describeJobStore, makeJob, makeResult } from "../src/conformance/index.js";
import { MemoryJobStore } from "../src/index.js";

// The engines of one process share one instance, so a "second handle" is the instance itself.
describeJobStore(
  { describe, it, beforeEach, afterEach },
  { name: "MemoryJobStore", create: async (options) => new MemoryJobStore(options), openSecond: async (store) => store },
);
describeJobStore(
  { describe, it, beforeEach, afterEach },
  {
    name: "MemoryJobStore (clone)",
    create: async (options) => new MemoryJobStore({ ...options, ownership: "clone" }),
    openSecond: async (store) => store,
  },
);
describeJobStore(
  { describe, it, beforeEach, afterEach },
  {
    name: "MemoryJobStore (flow)",
    create: async (options) => new MemoryJobStore({ ...options, flow: true }),
    openSecond: async (store) => store,
  },
);

describe("MemoryJobStore specifics", () => {
  it("flow claims plan over the claimable jobs it tracks: retried, reclaimed and new jobs are found, finished ones never", async () => {
    const clock = new ManualClock(1_000_000);
    const store = new MemoryJobStore({ flow: true, clock });
    const flow = { limits: { api: { maxConcurrent: 100 } } };
    const claim = async (): Promise<string[]> =>
      (await store.claimFlow({ owner: "o", limit: 100, leaseMs: 1_000, flow })).claimed.map((c) => c.job.id).sort();
    const [a, b, c] = [0, 1, 2].map(() => makeJob({ limits: [{ key: "api", units: 1 }], createdAt: 1_000, runAt: 1_000 })) as [
      Job,
      Job,
      Job,
    ];
    await store.commit({ insert: [a, b, c] });
    expect(await claim()).toEqual([a.id, b.id, c.id].sort());
    expect(await claim()).toEqual([]);
    // a completes, b goes back to retrying through a commit, c's lease expires and is reclaimed.
    const running = async (id: string): Promise<Job> => (await store.getJob(id))!;
    const [ra, rb] = [await running(a.id), await running(b.id)];
    await store.commit({
      update: [
        { job: bump(ra, { status: "completed" }), expectedVersion: ra.version },
        { job: bump(rb, { status: "retrying", runAt: 1_000 }), expectedVersion: rb.version },
      ],
      results: [makeResult(a.id)],
    });
    expect(await claim()).toEqual([b.id]);
    clock.advance(5_000);
    const reclaimed = await store.reclaimExpired({ limit: 10 });
    expect(reclaimed.retried.map((j) => j.id).sort()).toEqual([b.id, c.id].sort());
    clock.advance(10_000); // past their backoff
    const d = makeJob({ limits: [{ key: "api", units: 1 }], createdAt: 1_000, runAt: 1_000 });
    await store.commit({ insert: [d] });
    expect(await claim()).toEqual([b.id, c.id, d.id].sort());
    expect(await claim()).toEqual([]);
  });

  it('"freeze" (default) takes ownership: committed objects are deep-frozen in place and returned as is', async () => {
    const store = new MemoryJobStore();
    const job = makeJob({ payload: { list: [1, { a: 1 }] } });
    await store.commit({ insert: [job] });
    expect(Object.isFrozen(job)).toBe(true);
    expect(Object.isFrozen((job.payload as { list: unknown[] }).list[1])).toBe(true);
    expect(Object.isFrozen(job.backoff)).toBe(true);
    expect(await store.getJob(job.id)).toBe(job);
    expect(() => {
      job.status = "failed";
    }).toThrow(TypeError);
  });

  it('"clone" leaves the caller\'s objects alone and returns frozen copies', async () => {
    const store = new MemoryJobStore({ ownership: "clone" });
    const job = makeJob();
    const result = makeResult(job.id);
    await store.commit({ insert: [job], results: [result] });
    expect(Object.isFrozen(job)).toBe(false);
    job.status = "failed";
    const got = await store.getJob(job.id);
    expect(got?.status).toBe("pending");
    expect(Object.isFrozen(got)).toBe(true);
    expect(Object.isFrozen(await store.getResult(job.id))).toBe(true);
  });

  it('"clone" rejects a non-cloneable value before writing anything', async () => {
    const store = new MemoryJobStore({ ownership: "clone" });
    const ok = makeJob();
    const bad = makeJob({ payload: { f: (() => 1) as unknown as null } });
    await expect(store.commit({ insert: [ok, bad] })).rejects.toThrow();
    expect(await store.getJob(ok.id)).toBeUndefined();
    expect(store.size).toBe(0);
  });

  it("rejects an unknown ownership mode with a TypeError", () => {
    expect(() => new MemoryJobStore({ ownership: "share" as "clone" })).toThrow(TypeError);
  });

  it("lists correctly after out-of-order inserts interleaved with listing", async () => {
    const store = new MemoryJobStore();
    const late = makeJob();
    const early = makeJob({ createdAt: late.createdAt - 1000 });
    await store.commit({ insert: [late] });
    expect((await store.listJobs()).jobs.map((j) => j.id)).toEqual([late.id]);
    await store.commit({ insert: [early] });
    const after = makeJob();
    await store.commit({ insert: [after] });
    expect((await store.listJobs()).jobs.map((j) => j.id)).toEqual([early.id, late.id, after.id]);
    expect((await store.listJobs({ order: "desc", limit: 2 })).jobs.map((j) => j.id)).toEqual([after.id, late.id]);
  });

  it("an update that changes createdAt is rejected (the listing order of a job never changes)", async () => {
    const store = new MemoryJobStore();
    const job = makeJob();
    await store.commit({ insert: [job] });
    await expect(store.commit({ update: [{ job: bump(job, { createdAt: 1 }), expectedVersion: 0 }] })).rejects.toMatchObject({
      name: "ValidationError",
    });
  });

  it("close drops the data and size reports 0", async () => {
    const store = new MemoryJobStore();
    await store.commit({ insert: [makeJob(), makeJob()] });
    expect(store.size).toBe(2);
    await store.close();
    expect(store.size).toBe(0);
  });
});
