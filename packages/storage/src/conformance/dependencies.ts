import assert from "node:assert/strict";
import type { Job, JobStatus } from "@pyrexis/models";
import type { ClaimsJobStore } from "../claims.js";
import { hasDependencies } from "../dependencies.js";
import type { JobStore } from "../job-store.js";
import { LEASE_MS } from "./claim-data.js";
import { bump, makeJob, makeResult } from "./data.js";
import { plain, rejectsWith, storeTest, type Harness, type JobStoreFactory, type TestApi } from "./harness.js";

// The dependencies capability, for stores that declare it: each case is skipped unless
// `capabilities.dependencies` is declared. `describeJobStore` runs these; `describeDependencies`
// runs them alone.

/** A `waiting` job that depends on `parents`. */
function dependent(parents: readonly Job[], overrides: Partial<Job> = {}): Job {
  return makeJob({ status: "waiting", dependsOn: parents.map((p) => p.id), ...overrides });
}

/** Ends `job` (stored as given) with `status` and its result, in one commit. */
async function end(store: JobStore, job: Job, status: "completed" | "failed" | "cancelled"): Promise<Job> {
  const ended = bump(job, { status, attempts: Math.max(1, job.attempts) });
  await store.commit({ update: [{ job: ended, expectedVersion: job.version }], results: [makeResult(job.id, { status })] });
  return ended;
}

async function statusOf(store: JobStore, id: string): Promise<JobStatus | undefined> {
  return (await store.getJob(id))?.status;
}

async function assertNothingOf(store: JobStore, jobs: readonly Job[], what: string): Promise<void> {
  for (const j of jobs) assert.equal(await store.getJob(j.id), undefined, `${what}: job ${j.id} must not be written`);
}

/** The dependent ended by its parent: its record and its result name the parent. */
async function assertEndedBy(store: JobStore, child: Job, parentId: string, status: "failed" | "cancelled", what: string): Promise<void> {
  const job = await store.getJob(child.id);
  assert.equal(job?.status, status, `${what}: the dependent must be ${status}`);
  assert.equal(job?.lastError?.code, "DEPENDENCY_FAILED", `${what}: lastError is DEPENDENCY_FAILED`);
  assert.match(job?.lastError?.message ?? "", new RegExp(`dependency ${parentId} `), `${what}: lastError names parent ${parentId}`);
  const result = await store.getResult(child.id);
  assert.equal(result?.status, status, `${what}: the dependent has its ${status} result`);
  assert.equal(result?.error?.code, "DEPENDENCY_FAILED", `${what}: the result's error is DEPENDENCY_FAILED`);
  assert.equal(job?.version, child.version + 1, `${what}: one version step`);
}

/**
 * The `dependencies` capability: inserted dependents wait, unknown parents and cycles are
 * refused whole, the last completed parent releases a dependent in the same commit, a failed or
 * cancelled parent ends its dependents transitively with a `DEPENDENCY_FAILED` result, waiting
 * jobs are never claimed, a reclaim that fails a parent carries to its dependents, edges survive
 * reopening, and parents completed at once through two handles release a dependent exactly once.
 */
export function dependencies(api: TestApi, factory: JobStoreFactory, seed: number): void {
  const capability = { name: "dependencies" as const, present: hasDependencies };
  const t = (title: string, body: (h: Harness) => Promise<void>): void => storeTest(api, factory, seed, title, body, { capability });
  const c = (title: string, body: (h: Harness & { store: ClaimsJobStore }) => Promise<void>): void =>
    storeTest(api, factory, seed, title, (h) => body(h as Harness & { store: ClaimsJobStore }), { capability, claims: true });
  api.describe("dependencies", () => {
    t("a dependent inserted with an unfinished parent waits; its record round-trips with dependsOn", async ({ store }) => {
      const parent = makeJob();
      const child = dependent([parent]);
      await store.commit({ insert: [parent, child] });
      assert.deepStrictEqual(plain(await store.getJob(child.id)), plain(child));
      assert.equal((await store.countByStatus()).waiting, 1, "counted as waiting");
    });

    t("malformed dependencies reject the whole batch with ValidationError and write nothing", async ({ store }) => {
      const parent = makeJob();
      await store.commit({ insert: [parent] });
      const cases: [string, Job][] = [
        ["not waiting", makeJob({ status: "pending", dependsOn: [parent.id] })],
        ["empty", makeJob({ status: "waiting", dependsOn: [] })],
        ["repeated", makeJob({ status: "waiting", dependsOn: [parent.id, parent.id] })],
        ["not strings", makeJob({ status: "waiting", dependsOn: [7 as unknown as string] })],
      ];
      const self = makeJob({ status: "waiting" });
      cases.push(["itself", { ...self, dependsOn: [self.id] }]);
      for (const [what, bad] of cases) {
        const bystander = makeJob();
        await rejectsWith(store.commit({ insert: [bystander, bad] }), "ValidationError", "VALIDATION", what);
        await assertNothingOf(store, [bystander, bad], what);
      }
    });

    t("an unknown parent rejects the whole batch with UnknownDependencyError naming it", async ({ store }) => {
      const known = makeJob();
      const child = makeJob({ status: "waiting", dependsOn: [known.id, "no-such-parent"] });
      const error = await rejectsWith(store.commit({ insert: [known, child] }), "UnknownDependencyError", "UNKNOWN_DEPENDENCY");
      assert.equal(error.parentId, "no-such-parent");
      assert.equal(error.jobId, child.id);
      await assertNothingOf(store, [known, child], "unknown parent");
    });

    t("a cycle among a batch's jobs rejects it whole with DependencyCycleError", async ({ store }) => {
      const a = makeJob({ status: "waiting" });
      const b = makeJob({ status: "waiting", dependsOn: [a.id] });
      const cyc = makeJob({ status: "waiting", dependsOn: [b.id] });
      const a2 = { ...a, dependsOn: [cyc.id] };
      const error = await rejectsWith(store.commit({ insert: [a2, b, cyc] }), "DependencyCycleError", "DEPENDENCY_CYCLE");
      assert.deepEqual([...(error.cycle as string[])].sort(), [a.id, b.id, cyc.id].sort(), "the cycle names its jobs");
      await assertNothingOf(store, [a2, b, cyc], "cycle");
    });

    t("a dependent of completed parents is pending at once; of a failed or cancelled parent it ends at once", async ({ store }) => {
      const done = makeJob();
      const failed = makeJob();
      const cancelled = makeJob();
      await store.commit({ insert: [done, failed, cancelled] });
      await end(store, done, "completed");
      await end(store, failed, "failed");
      await end(store, cancelled, "cancelled");
      const ready = dependent([done]);
      const doomed = dependent([done, cancelled, failed]);
      const dropped = dependent([cancelled, done]);
      await store.commit({ insert: [ready, doomed, dropped] });
      const released = await store.getJob(ready.id);
      assert.equal(released?.status, "pending", "every parent completed: pending in the same commit");
      assert.equal(released?.version, ready.version + 1);
      await assertEndedBy(store, doomed, failed.id, "failed", "a failed parent wins over a cancelled one");
      await assertEndedBy(store, dropped, cancelled.id, "cancelled", "a cancelled parent");
    });

    t("the last parent to complete releases the dependent, due no earlier than its release", async ({ store }) => {
      const a = makeJob();
      const b = makeJob();
      const child = dependent([a, b], { runAt: a.createdAt });
      await store.commit({ insert: [a, b, child] });
      await end(store, a, "completed");
      assert.equal(await statusOf(store, child.id), "waiting", "one parent of two completed: still waiting");
      const before = Date.now();
      await end(store, b, "completed");
      const released = await store.getJob(child.id);
      assert.equal(released?.status, "pending", "both completed: pending in that commit");
      assert.equal(released?.version, child.version + 1);
      assert.equal(released?.attempts, 0);
      assert.ok(released.runAt >= child.runAt, "runAt never moves back");
      assert.ok(released.updatedAt >= Math.min(before, child.updatedAt), "updatedAt is the release time");
      assert.deepEqual(released?.dependsOn, [a.id, b.id], "dependsOn stays on the record");
    });

    t("a parent and its dependent in one batch: completing the parent later releases it", async ({ store }) => {
      const parent = makeJob();
      const child = dependent([parent]);
      const grandchild = dependent([child]);
      await store.commit({ insert: [grandchild, child, parent] });
      assert.equal(await statusOf(store, child.id), "waiting");
      await end(store, parent, "completed");
      assert.equal(await statusOf(store, child.id), "pending");
      assert.equal(await statusOf(store, grandchild.id), "waiting", "the grandchild waits for the child");
    });

    t("a failed parent fails its dependents transitively; a cancelled one cancels them", async ({ store }) => {
      const root = makeJob();
      const mid = dependent([root]);
      const leaf = dependent([mid]);
      const other = makeJob();
      const diamond = dependent([mid, other]);
      const root2 = makeJob();
      const child2 = dependent([root2]);
      await store.commit({ insert: [root, mid, leaf, other, diamond, root2, child2] });
      await end(store, root, "failed");
      await assertEndedBy(store, mid, root.id, "failed", "child of the failed job");
      await assertEndedBy(store, leaf, mid.id, "failed", "grandchild");
      await assertEndedBy(store, diamond, mid.id, "failed", "a dependent with another unfinished parent");
      assert.match((await store.getJob(leaf.id))?.lastError?.message ?? "", new RegExp(`started at job ${root.id}`), "names the origin");
      assert.equal(await statusOf(store, other.id), "pending", "an unrelated parent is untouched");
      await end(store, other, "completed");
      assert.equal(await statusOf(store, diamond.id), "failed", "a later completion leaves an ended dependent alone");
      await end(store, root2, "cancelled");
      await assertEndedBy(store, child2, root2.id, "cancelled", "child of the cancelled job");
      const counts = await store.countByStatus();
      assert.equal(counts.waiting, 0);
    });

    t("a dependent another writer moved on is left alone; cancelling a waiting job cancels its dependents", async ({ store }) => {
      const parent = makeJob();
      const child = dependent([parent]);
      const grandchild = dependent([child]);
      await store.commit({ insert: [parent, child, grandchild] });
      await end(store, child, "cancelled");
      await assertEndedBy(store, grandchild, child.id, "cancelled", "the cancelled waiting job's dependent");
      const cancelled = await store.getJob(child.id);
      await end(store, parent, "completed");
      assert.deepStrictEqual(plain(await store.getJob(child.id)), plain(cancelled), "the parent's completion leaves it cancelled");
    });

    t("a batch that inserts a dependent and completes its parent releases it in that commit", async ({ store }) => {
      const parent = makeJob();
      await store.commit({ insert: [parent] });
      const child = dependent([parent]);
      await store.commit({
        insert: [child],
        update: [{ job: bump(parent, { status: "completed", attempts: 1 }), expectedVersion: parent.version }],
        results: [makeResult(parent.id)],
      });
      assert.equal(await statusOf(store, child.id), "pending");
    });

    c("waiting jobs are never claimed; a released one is", async ({ store }) => {
      const parent = makeJob({ priority: 0 });
      const child = dependent([parent], { priority: 10 });
      await store.commit({ insert: [parent, child] });
      const first = await store.claim({ owner: "deps", limit: 10, leaseMs: LEASE_MS });
      assert.deepEqual(
        first.map((x) => x.job.id),
        [parent.id],
        "only the parent is due",
      );
      const running = first[0]!.job;
      await store.commit({
        update: [{ job: bump(running, { status: "completed" }), expectedVersion: running.version }],
        results: [makeResult(parent.id)],
      });
      const second = await store.claim({ owner: "deps", limit: 10, leaseMs: LEASE_MS });
      assert.deepEqual(
        second.map((x) => x.job.id),
        [child.id],
        "the released dependent is claimable",
      );
      assert.equal(await store.claim({ owner: "deps", limit: 10, leaseMs: LEASE_MS, ids: [child.id] }).then((x) => x.length), 0);
    });

    c("a reclaim that fails a parent (attempts used up) fails its dependents in the same call", async ({ store, clock }) => {
      const parent = makeJob({ maxAttempts: 1 });
      const child = dependent([parent]);
      await store.commit({ insert: [parent, child] });
      const [claimed] = await store.claim({ owner: "doomed", limit: 1, leaseMs: LEASE_MS });
      assert.equal(claimed?.job.id, parent.id);
      clock!.advance(LEASE_MS + 1);
      const report = await store.reclaimExpired({ limit: 10 });
      assert.deepEqual(
        report.failed.map((j) => j.id),
        [parent.id],
      );
      await assertEndedBy(store, child, parent.id, "failed", "after the reclaim");
    });

    t("dependency edges survive reopening", async (h) => {
      if (!h.store.capabilities.persistent) return;
      const parent = makeJob();
      const child = dependent([parent]);
      await h.store.commit({ insert: [parent, child] });
      const store = await h.reopen(h.store);
      await end(store, parent, "completed");
      assert.equal(await statusOf(store, child.id), "pending");
    });

    t("parents completed at once through two handles release their dependent exactly once", async (h) => {
      if (!h.store.capabilities.shared) return;
      const a = h.store;
      const b = await h.openSecond(a);
      for (let round = 0; round < 20; round++) {
        const p1 = makeJob();
        const p2 = makeJob();
        const child = dependent([p1, p2]);
        await a.commit({ insert: [p1, p2, child] });
        await Promise.all([end(a, p1, "completed"), end(b, p2, "completed")]);
        const released = await a.getJob(child.id);
        assert.equal(released?.status, "pending", `round ${round}: released once both parents completed`);
        assert.equal(released?.version, child.version + 1, `round ${round}: released exactly once`);
      }
    });

    t("a dependent inserted while its parent completes through another handle is released", async (h) => {
      if (!h.store.capabilities.shared) return;
      const a = h.store;
      const b = await h.openSecond(a);
      for (let round = 0; round < 20; round++) {
        const parent = makeJob();
        await a.commit({ insert: [parent] });
        const child = dependent([parent]);
        await Promise.all([b.commit({ insert: [child] }), end(a, parent, "completed")]);
        assert.equal(await statusOf(a, child.id), "pending", `round ${round}: never left waiting for a parent that completed`);
      }
    });
  });
}
