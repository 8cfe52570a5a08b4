import assert from "node:assert/strict";
import type { Job, Result } from "@pyrexis/models";
import type { CommitBatch, JobStore } from "../job-store.js";
import { bump, makeJob, makeResult } from "./data.js";
import { plain, rejectsWith, snapshot, storeTest, type JobStoreFactory, type TestApi } from "./harness.js";

/** Runs `batch` expecting a rejection with `name`/`code`, and checks that nothing changed. */
async function rejectsAtomically(
  store: JobStore,
  batch: unknown,
  ids: string[],
  name: string,
  code: string,
): Promise<Record<string, unknown>> {
  const before = await snapshot(store, ids);
  const error = await rejectsWith(store.commit(batch as CommitBatch), name, code);
  assert.deepStrictEqual(await snapshot(store, ids), before, `a rejected batch (${name}) must write nothing`);
  return error;
}

/**
 * The commit rules: all-or-nothing batches, the error for each violation (checked in the order
 * inserts → updates → results, after argument checks), compare-and-set on `version`, write-once
 * results; and a seeded random sequence of batches with injected faults checked against a model.
 */
export function commitRules(api: TestApi, factory: JobStoreFactory, seed: number): void {
  const t = (title: string, body: Parameters<typeof storeTest>[4]): void => storeTest(api, factory, seed, title, body);
  api.describe("commit rules", () => {
    t("an empty batch (or empty lists) is a no-op", async ({ store }) => {
      await store.commit({});
      await store.commit({ insert: [], update: [], results: [] });
      await store.commit({ insert: undefined });
      assert.deepStrictEqual((await store.listJobs()).jobs, []);
    });

    t("inserts, updates and results of one batch are all applied", async ({ store }) => {
      const a = makeJob();
      await store.commit({ insert: [a] });
      const b = makeJob();
      const a1 = bump(a, { status: "running", attempts: 1 });
      const r = makeResult(b.id);
      // b is inserted and gets a result in the same batch: inserts are applied before results.
      await store.commit({ insert: [b], update: [{ job: a1, expectedVersion: 0 }], results: [r] });
      assert.deepStrictEqual(plain(await store.getJob(a.id)), plain(a1));
      assert.deepStrictEqual(plain(await store.getJob(b.id)), plain(b));
      assert.deepStrictEqual(plain(await store.getResult(b.id)), plain(r));
    });

    t("an update and a result for the same job in one batch are both applied", async ({ store }) => {
      const a = makeJob({ status: "running", attempts: 1 });
      await store.commit({ insert: [a] });
      const done = bump(a, { status: "completed" });
      await store.commit({ update: [{ job: done, expectedVersion: 0 }], results: [makeResult(a.id)] });
      assert.equal((await store.getJob(a.id))?.status, "completed");
      assert.equal((await store.getResult(a.id))?.jobId, a.id);
    });

    t("a duplicate of an existing id rejects the whole batch with DuplicateJobError", async ({ store }) => {
      const a = makeJob();
      await store.commit({ insert: [a] });
      const fresh = makeJob();
      const dup = makeJob({ id: a.id, handler: "other" });
      const e = await rejectsAtomically(store, { insert: [fresh, dup] }, [a.id, fresh.id], "DuplicateJobError", "DUPLICATE_JOB");
      assert.equal(e.jobId, a.id);
      assert.equal((await store.getJob(a.id))?.handler, a.handler, "the existing job must not be overwritten");
    });

    t("an id repeated inside one batch rejects it with DuplicateJobError", async ({ store }) => {
      const a = makeJob();
      const b = makeJob();
      const e = await rejectsAtomically(store, { insert: [a, b, { ...a }] }, [a.id, b.id], "DuplicateJobError", "DUPLICATE_JOB");
      assert.equal(e.jobId, a.id);
    });

    t("a stale expectedVersion rejects the whole batch with StaleVersionError", async ({ store }) => {
      const a = makeJob();
      const b = makeJob();
      await store.commit({ insert: [a, b] });
      const a1 = bump(a, { status: "running" });
      await store.commit({ update: [{ job: a1, expectedVersion: 0 }] });
      const c = makeJob();
      const batch = {
        insert: [c],
        update: [
          { job: bump(b, { status: "running" }), expectedVersion: 0 },
          { job: bump(a, { status: "cancelled" }), expectedVersion: 0 },
        ],
        results: [makeResult(b.id)],
      };
      const e = await rejectsAtomically(store, batch, [a.id, b.id, c.id], "StaleVersionError", "STALE_VERSION");
      assert.equal(e.jobId, a.id);
      assert.equal(e.expectedVersion, 0);
      assert.equal(e.actualVersion, 1);
    });

    t("an update of a job that does not exist rejects with StaleVersionError (actualVersion undefined)", async ({ store }) => {
      const ghost = makeJob();
      const other = makeJob();
      const e = await rejectsAtomically(
        store,
        { insert: [other], update: [{ job: bump(ghost), expectedVersion: 0 }] },
        [ghost.id, other.id],
        "StaleVersionError",
        "STALE_VERSION",
      );
      assert.equal(e.jobId, ghost.id);
      assert.equal(e.actualVersion, undefined);
    });

    t("versions may jump: the check is stored version === expectedVersion, new version > expectedVersion", async ({ store }) => {
      const a = makeJob();
      await store.commit({ insert: [a] });
      await store.commit({ update: [{ job: bump(a, { version: 5 }), expectedVersion: 0 }] });
      assert.equal((await store.getJob(a.id))?.version, 5);
      await rejectsWith(
        store.commit({ update: [{ job: bump(a, { version: 6 }), expectedVersion: 4 }] }),
        "StaleVersionError",
        "STALE_VERSION",
      );
    });

    t("an update may not change createdAt, group or limits: ValidationError, and the whole batch is refused", async ({ store }) => {
      const a = makeJob({ group: "tenant-a", limits: [{ key: "api", units: 2 }] });
      const b = makeJob();
      await store.commit({ insert: [a, b] });
      const changes: [Job, Partial<Job>][] = [
        [a, { createdAt: a.createdAt + 1 }],
        [a, { group: "tenant-b" }],
        [a, { group: undefined }],
        [a, { limits: [{ key: "api", units: 3 }] }],
        [a, { limits: [{ key: "other", units: 2 }] }],
        [
          a,
          {
            limits: [
              { key: "api", units: 2 },
              { key: "other", units: 1 },
            ],
          },
        ],
        [a, { limits: undefined }],
        [b, { group: "tenant-a" }],
        [b, { limits: [{ key: "api", units: 1 }] }],
        // Malformed limits are a change too (records are only shape-checked), never a TypeError.
        [a, { limits: null as never }],
        [b, { limits: null as never }],
        [a, { limits: [null] as never }],
      ];
      for (const [job, change] of changes) {
        const other = job === a ? b : a;
        // A valid update of the other job rides along: the refusal takes the whole batch.
        const e = await rejectsAtomically(
          store,
          {
            update: [
              { job: bump(other, { status: "running" }), expectedVersion: other.version },
              { job: bump(job, change), expectedVersion: job.version },
            ],
          },
          [a.id, b.id],
          "ValidationError",
          "VALIDATION",
        );
        const field = Object.keys(change)[0]!;
        assert.match(String(e.message), new RegExp(`${job.id}.*${field}`), `the error names the job and ${field}`);
      }
      // Equal values in new objects are no change: the update lands, the fields stay.
      await store.commit({
        update: [{ job: bump(a, { status: "running", limits: [{ key: "api", units: 2 }] }), expectedVersion: a.version }],
      });
      const stored = await store.getJob(a.id);
      assert.equal(stored?.status, "running");
      assert.equal(stored?.group, "tenant-a");
      assert.deepStrictEqual(plain(stored?.limits), [{ key: "api", units: 2 }]);
    });

    t("an update whose job.version <= expectedVersion rejects with ValidationError", async ({ store }) => {
      const a = makeJob();
      const b = makeJob();
      await store.commit({ insert: [a, b] });
      for (const version of [0, -1]) {
        await rejectsAtomically(
          store,
          {
            insert: [makeJob()],
            update: [
              { job: bump(b), expectedVersion: 0 },
              { job: { ...a, version }, expectedVersion: 0 },
            ],
          },
          [a.id, b.id],
          "ValidationError",
          "VALIDATION",
        );
      }
    });

    t("an insert and an update of the same id in one batch reject with ValidationError", async ({ store }) => {
      const a = makeJob();
      await rejectsAtomically(
        store,
        { insert: [a], update: [{ job: bump(a), expectedVersion: 0 }] },
        [a.id],
        "ValidationError",
        "VALIDATION",
      );
    });

    t("two updates of the same id in one batch reject with ValidationError", async ({ store }) => {
      const a = makeJob();
      await store.commit({ insert: [a] });
      const a1 = bump(a);
      const a2 = bump(a1);
      await rejectsAtomically(
        store,
        {
          update: [
            { job: a1, expectedVersion: 0 },
            { job: a2, expectedVersion: 1 },
          ],
        },
        [a.id],
        "ValidationError",
        "VALIDATION",
      );
    });

    t("a second result for a job rejects the whole batch with ResultExistsError; the first stays", async ({ store }) => {
      const a = makeJob();
      const b = makeJob();
      await store.commit({ insert: [a, b] });
      const first = makeResult(a.id, { output: "first" });
      await store.commit({ results: [first] });
      const e = await rejectsAtomically(
        store,
        { update: [{ job: bump(b), expectedVersion: 0 }], results: [makeResult(b.id), makeResult(a.id, { output: "second" })] },
        [a.id, b.id],
        "ResultExistsError",
        "RESULT_EXISTS",
      );
      assert.equal(e.jobId, a.id);
      assert.deepStrictEqual(plain(await store.getResult(a.id)), plain(first));
    });

    t("a second result for a job updated in the same batch rejects the batch with ResultExistsError", async ({ store }) => {
      const a = makeJob();
      await store.commit({ insert: [a] });
      const first = makeResult(a.id, { output: "first" });
      await store.commit({ results: [first] });
      const e = await rejectsAtomically(
        store,
        { update: [{ job: bump(a), expectedVersion: 0 }], results: [makeResult(a.id, { output: "second" })] },
        [a.id],
        "ResultExistsError",
        "RESULT_EXISTS",
      );
      assert.equal(e.jobId, a.id);
      assert.deepStrictEqual(plain(await store.getResult(a.id)), plain(first));
    });

    t("two results for one job in the same batch reject it with ResultExistsError", async ({ store }) => {
      const a = makeJob();
      await store.commit({ insert: [a] });
      await rejectsAtomically(
        store,
        { results: [makeResult(a.id), makeResult(a.id, { output: 2 })] },
        [a.id],
        "ResultExistsError",
        "RESULT_EXISTS",
      );
    });

    t("a result for a job that does not exist rejects with JobNotFoundError", async ({ store }) => {
      const ghost = "no-such-job-for-result";
      const a = makeJob();
      const e = await rejectsAtomically(
        store,
        { insert: [a], results: [makeResult(ghost)] },
        [a.id, ghost],
        "JobNotFoundError",
        "JOB_NOT_FOUND",
      );
      assert.equal(e.jobId, ghost);
    });

    t("invalid batches reject with ValidationError and write nothing", async ({ store }) => {
      const a = makeJob();
      await store.commit({ insert: [a] });
      const good = makeJob();
      const bad: unknown[] = [
        null,
        undefined,
        "batch",
        42,
        [good],
        { insert: good },
        { insert: "x" },
        { update: { job: bump(a), expectedVersion: 0 } },
        { results: makeResult(a.id) },
        { insert: [good, null] },
        { insert: [good, { ...makeJob(), id: 7 }] },
        { insert: [good], update: [{ job: bump(a) }] },
        { insert: [good], update: [{ job: bump(a), expectedVersion: "0" }] },
        { insert: [good], update: [null] },
        { insert: [good], results: [{ status: "completed" }] },
      ];
      for (const [i, batch] of bad.entries()) {
        const before = await snapshot(store, [a.id, good.id]);
        await rejectsWith(store.commit(batch as CommitBatch), "ValidationError", "VALIDATION", `bad batch #${i}`);
        assert.deepStrictEqual(await snapshot(store, [a.id, good.id]), before, `bad batch #${i} must write nothing`);
      }
    });

    t("seeded random batches with injected faults match a model (all-or-nothing every time)", async ({ store, rng }) => {
      const model = new Map<string, Job>();
      const results = new Map<string, Result>();
      const ids: string[] = [];
      let applied = 0;
      for (let round = 0; round < 120; round++) {
        const insert: Job[] = [];
        const update: { job: Job; expectedVersion: number }[] = [];
        const res: Result[] = [];
        for (let k = rng.int(4); k > 0; k--) insert.push(makeJob({ status: rng.pick(["pending", "created"] as const) }));
        const existing = [...model.values()];
        const touched = new Set<string>();
        for (let k = rng.int(4); k > 0 && existing.length > 0; k--) {
          const j = rng.pick(existing);
          if (touched.has(j.id)) continue;
          touched.add(j.id);
          update.push({
            job: bump(j, { status: rng.pick(["running", "retrying", "completed", "failed"] as const) }),
            expectedVersion: j.version,
          });
        }
        const candidates = [...existing.map((j) => j.id), ...insert.map((j) => j.id)].filter((id) => !results.has(id));
        const resulted = new Set<string>();
        for (let k = rng.int(3); k > 0 && candidates.length > 0; k--) {
          const id = rng.pick(candidates);
          if (resulted.has(id)) continue;
          resulted.add(id);
          res.push(makeResult(id, { output: { round } }));
        }
        // Inject at most one fault; the expected error is the first the contract order finds.
        const fault = rng.int(6);
        let expected: string | undefined;
        const untouched = existing.filter((j) => !touched.has(j.id));
        if (fault === 0 && untouched.length > 0) {
          insert.push(makeJob({ id: rng.pick(untouched).id }));
          expected = "DuplicateJobError";
        } else if (fault === 1 && update.length > 0) {
          const u = update[rng.int(update.length)]!;
          u.expectedVersion += 1;
          u.job = { ...u.job, version: u.expectedVersion + 1 };
          expected = "StaleVersionError";
        } else if (fault === 2 && results.size > 0) {
          res.push(makeResult(rng.pick([...results.keys()])));
          expected = "ResultExistsError";
        } else if (fault === 3) {
          res.push(makeResult(`missing-${round}`));
          expected = "JobNotFoundError";
        }
        const before = expected === undefined ? undefined : await snapshot(store, ids);
        let error: unknown;
        try {
          await store.commit({ insert, update, results: res });
        } catch (e) {
          error = e;
        }
        if (expected === undefined) {
          assert.equal(error, undefined, `round ${round}: a valid batch was rejected: ${String(error)}`);
          for (const j of insert) {
            model.set(j.id, j);
            ids.push(j.id);
          }
          for (const u of update) model.set(u.job.id, u.job);
          for (const r of res) results.set(r.jobId, r);
          applied++;
        } else {
          assert.equal(
            (error as { name?: string } | undefined)?.name,
            expected,
            `round ${round}: expected ${expected}, got ${String(error)}`,
          );
          assert.deepStrictEqual(await snapshot(store, ids), before, `round ${round}: a rejected batch must write nothing`);
        }
      }
      for (const id of ids) {
        assert.deepStrictEqual(plain(await store.getJob(id)), plain(model.get(id)), `job ${id}`);
        assert.deepStrictEqual(plain(await store.getResult(id)), plain(results.get(id)), `result ${id}`);
      }
      const counts = await store.countByStatus();
      for (const [status, n] of Object.entries(counts)) {
        assert.equal(n, [...model.values()].filter((j) => j.status === status).length, `count of ${status}`);
      }
      assert.ok(applied > 10, "the random sequence should apply some batches");
    });
  });
}
