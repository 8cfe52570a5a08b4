import assert from "node:assert/strict";
import type { Job, JobStatus } from "@pyrexis/models";
import type { JobStore, ListJobsQuery } from "../job-store.js";
import { BASE_TIME, bump, makeJob } from "./data.js";
import { plain, rejectsWith, storeTest, type JobStoreFactory, type TestApi } from "./harness.js";

function cmp(a: Job, b: Job): number {
  if (a.createdAt !== b.createdAt) return a.createdAt - b.createdAt;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

async function listAll(store: JobStore, query: Omit<ListJobsQuery, "cursor">): Promise<Job[]> {
  const out: Job[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < 10_000; pages++) {
    const page = await store.listJobs({ ...query, cursor });
    out.push(...page.jobs);
    if (page.cursor === undefined) return out;
    assert.equal(typeof page.cursor, "string", "cursor must be a string when present");
    cursor = page.cursor;
  }
  throw new Error("listJobs never returned a last page");
}

const ids = (jobs: readonly Job[]): string[] => jobs.map((j) => j.id);

/**
 * Listing: `(createdAt, id)` order both ways, limits (default 100, 1–10000), status filters,
 * keyset cursors (no cursor on the last page, no gaps or repeats while other writes happen
 * between pages), and `ValidationError` for every malformed query.
 */
export function listing(api: TestApi, factory: JobStoreFactory, seed: number): void {
  const t = (title: string, body: Parameters<typeof storeTest>[4]): void => storeTest(api, factory, seed, title, body);
  api.describe("listing", () => {
    t("an empty store lists no jobs and no cursor", async ({ store }) => {
      const page = await store.listJobs();
      assert.deepStrictEqual(page.jobs, []);
      assert.equal(page.cursor, undefined);
      assert.deepStrictEqual((await store.listJobs({ status: "running", order: "desc" })).jobs, []);
    });

    t("orders by (createdAt, id) ascending by default, ties broken by id, whatever the insert order", async ({ store, rng }) => {
      const jobs: Job[] = [];
      for (let i = 0; i < 60; i++) jobs.push(makeJob({ createdAt: BASE_TIME + rng.int(10) }));
      const shuffled = [...jobs].sort(() => rng.next() - 0.5);
      for (let i = 0; i < shuffled.length; i += 7) await store.commit({ insert: shuffled.slice(i, i + 7) });
      const expected = [...jobs].sort(cmp);
      assert.deepStrictEqual(ids((await store.listJobs()).jobs), ids(expected));
      assert.deepStrictEqual(ids(await listAll(store, { limit: 7 })), ids(expected));
      assert.deepStrictEqual(plain((await store.listJobs()).jobs), plain(expected), "listed jobs must be complete records");
    });

    t('order "desc" lists newest first, the exact reverse', async ({ store, rng }) => {
      const jobs: Job[] = [];
      for (let i = 0; i < 45; i++) jobs.push(makeJob({ createdAt: BASE_TIME + rng.int(8) }));
      await store.commit({ insert: jobs });
      const expected = ids([...jobs].sort(cmp).reverse());
      assert.deepStrictEqual(ids((await store.listJobs({ order: "desc" })).jobs), expected);
      assert.deepStrictEqual(ids(await listAll(store, { order: "desc", limit: 4 })), expected);
    });

    t("default limit is 100; a cursor is given exactly when more matching jobs exist", async ({ store }) => {
      const jobs = Array.from({ length: 150 }, () => makeJob());
      await store.commit({ insert: jobs });
      const first = await store.listJobs();
      assert.equal(first.jobs.length, 100);
      assert.equal(typeof first.cursor, "string");
      const second = await store.listJobs({ cursor: first.cursor });
      assert.equal(second.jobs.length, 50);
      assert.equal(second.cursor, undefined, "the last page has no cursor");
      const exact = await store.listJobs({ limit: 150 });
      assert.equal(exact.jobs.length, 150);
      assert.equal(exact.cursor, undefined, "a page that holds exactly the rest has no cursor");
      const one = await store.listJobs({ limit: 1 });
      assert.deepStrictEqual(ids(one.jobs), [jobs[0]!.id]);
      assert.equal((await store.listJobs({ limit: 10_000 })).jobs.length, 150);
    });

    t("filters by one status or several", async ({ store, rng }) => {
      const statuses: JobStatus[] = ["pending", "running", "retrying", "completed", "failed", "cancelled", "created"];
      const jobs = Array.from({ length: 80 }, () => makeJob({ status: rng.pick(statuses) }));
      await store.commit({ insert: jobs });
      const sorted = [...jobs].sort(cmp);
      for (const s of statuses) {
        assert.deepStrictEqual(
          ids(await listAll(store, { status: s, limit: 3 })),
          ids(sorted.filter((j) => j.status === s)),
          `status ${s}`,
        );
      }
      const some: JobStatus[] = ["running", "failed"];
      assert.deepStrictEqual(ids(await listAll(store, { status: some, limit: 5 })), ids(sorted.filter((j) => some.includes(j.status))));
      assert.deepStrictEqual(
        ids(await listAll(store, { status: ["pending"], order: "desc", limit: 2 })),
        ids(sorted.filter((j) => j.status === "pending").reverse()),
      );
      const moved = jobs.find((j) => j.status === "pending")!;
      await store.commit({ update: [{ job: bump(moved, { status: "running" }), expectedVersion: moved.version }] });
      assert.ok(!ids(await listAll(store, { status: "pending" })).includes(moved.id), "the filter sees the current status");
      assert.ok(ids(await listAll(store, { status: "running" })).includes(moved.id));
    });

    for (const order of ["asc", "desc"] as const) {
      for (const filter of [undefined, "pending", ["pending", "retrying"]] as const) {
        t(
          `pages have no gaps or repeats while jobs are inserted and updated between pages (${order}, status ${JSON.stringify(filter) ?? "any"})`,
          async ({ store, rng }) => {
            const matches = (s: JobStatus): boolean =>
              filter === undefined || (typeof filter === "string" ? s === filter : (filter as readonly string[]).includes(s));
            const current = new Map<string, Job>();
            const initial = Array.from({ length: 240 }, () =>
              makeJob({ createdAt: BASE_TIME + rng.int(60), status: rng.pick(["pending", "retrying", "running"] as const) }),
            );
            for (let i = 0; i < initial.length; i += 40) await store.commit({ insert: initial.slice(i, i + 40) });
            for (const j of initial) current.set(j.id, j);
            // Jobs that exist throughout and keep matching: must each be listed exactly once.
            const changed = new Set<string>();
            const seen: Job[] = [];
            let cursor: string | undefined;
            for (let pages = 0; ; pages++) {
              assert.ok(pages < 1000, "too many pages");
              const page = await store.listJobs({ status: filter as ListJobsQuery["status"], order, limit: 1 + rng.int(9), cursor });
              for (const j of page.jobs) assert.ok(matches(j.status), `job ${j.id} (${j.status}) does not match the filter`);
              seen.push(...page.jobs);
              if (page.cursor === undefined) break;
              cursor = page.cursor;
              // Writes between pages: new jobs anywhere in the order, updates that keep or change status.
              const fresh = Array.from({ length: rng.int(3) }, () =>
                makeJob({ createdAt: BASE_TIME + rng.int(60), status: rng.pick(["pending", "retrying", "running"] as const) }),
              );
              const pool = [...current.values()];
              const updates: { job: Job; expectedVersion: number }[] = [];
              const picked = new Set<string>();
              for (let k = rng.int(4); k > 0; k--) {
                const j = rng.pick(pool);
                if (picked.has(j.id)) continue;
                picked.add(j.id);
                const keep = rng.chance(0.6);
                const next = bump(
                  j,
                  keep ? { payload: { touched: pages } } : { status: rng.pick(["pending", "retrying", "running", "completed"] as const) },
                );
                if (!keep) changed.add(j.id);
                updates.push({ job: next, expectedVersion: j.version });
              }
              await store.commit({ insert: fresh, update: updates });
              for (const j of fresh) {
                current.set(j.id, j);
                changed.add(j.id); // not there throughout: may or may not be listed
              }
              for (const u of updates) current.set(u.job.id, u.job);
            }
            const seenIds = ids(seen);
            assert.equal(new Set(seenIds).size, seenIds.length, "no job may be listed twice");
            for (let i = 1; i < seen.length; i++) {
              const c = cmp(seen[i - 1]!, seen[i]!);
              assert.ok(order === "asc" ? c < 0 : c > 0, `listing out of ${order} order at ${i}`);
            }
            const listed = new Set(seenIds);
            for (const j of initial) {
              if (!changed.has(j.id) && matches(j.status))
                assert.ok(listed.has(j.id), `job ${j.id} matched throughout but was skipped (gap)`);
            }
          },
        );
      }
    }

    t("a bad limit rejects with ValidationError", async ({ store }) => {
      await store.commit({ insert: [makeJob()] });
      for (const limit of [0, -1, 10_001, 1.5, Number.NaN, Number.POSITIVE_INFINITY, "10", null]) {
        await rejectsWith(store.listJobs({ limit: limit as number }), "ValidationError", "VALIDATION", `limit ${String(limit)}`);
      }
    });

    t("an unknown or empty status filter rejects with ValidationError", async ({ store }) => {
      for (const status of ["done", "", ["pending", "bogus"], [], 3, [null]]) {
        await rejectsWith(
          store.listJobs({ status: status as JobStatus }),
          "ValidationError",
          "VALIDATION",
          `status ${JSON.stringify(status)}`,
        );
      }
    });

    t("a malformed cursor, order or query rejects with ValidationError", async ({ store }) => {
      await store.commit({ insert: Array.from({ length: 3 }, () => makeJob()) });
      for (const cursor of ["garbage", "", "!!!", "%%%", "c1.", "eyJhIjoxfQ", "null", "[]", 42, {}]) {
        await rejectsWith(
          store.listJobs({ cursor: cursor as string }),
          "ValidationError",
          "VALIDATION",
          `cursor ${JSON.stringify(cursor)}`,
        );
      }
      await rejectsWith(store.listJobs({ order: "sideways" as "asc" }), "ValidationError", "VALIDATION", "order");
      for (const q of ["x", 5, null, [], true]) {
        await rejectsWith(store.listJobs(q as ListJobsQuery), "ValidationError", "VALIDATION", `query ${JSON.stringify(q)}`);
      }
    });
  });
}
