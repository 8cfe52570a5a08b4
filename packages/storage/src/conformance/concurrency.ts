import assert from "node:assert/strict";
import type { Job } from "@pyrexis/models";
import { bump, makeJob, makeResult } from "./data.js";
import { plain, storeTest, type JobStoreFactory, type TestApi } from "./harness.js";

function settle(results: PromiseSettledResult<unknown>[], loserName: string, what: string): number {
  const won = results.filter((r) => r.status === "fulfilled").length;
  assert.equal(won, 1, `${what}: exactly one concurrent commit must win, ${won} did`);
  for (const r of results) {
    if (r.status === "rejected") {
      const e = r.reason as { name?: string; code?: string; message?: string };
      assert.equal(e.name, loserName, `${what}: losers must get ${loserName}, got ${String(e.name)}: ${String(e.message)}`);
    }
  }
  return results.findIndex((r) => r.status === "fulfilled");
}

/**
 * Concurrency: commits started together (Promise.all, not awaited one by one) are serialized
 * correctly: compare-and-set lets exactly one of many same-version updates win, one of many
 * same-id inserts, one of many results; losing batches write nothing; disjoint work all lands.
 */
export function concurrency(api: TestApi, factory: JobStoreFactory, seed: number): void {
  const t = (title: string, body: Parameters<typeof storeTest>[4]): void => storeTest(api, factory, seed, title, body);
  api.describe("concurrency", () => {
    t("many concurrent updates with the same expectedVersion: exactly one wins, the rest get StaleVersionError", async ({ store }) => {
      const job = makeJob();
      await store.commit({ insert: [job] });
      for (let round = 0; round < 3; round++) {
        const current = (await store.getJob(job.id))!;
        const candidates = Array.from({ length: 25 }, (_, i) => bump(current, { payload: { round, writer: i } }));
        const settled = await Promise.allSettled(
          candidates.map((c) => store.commit({ update: [{ job: c, expectedVersion: current.version }] })),
        );
        const winner = settle(settled, "StaleVersionError", `round ${round}`);
        assert.deepStrictEqual(plain(await store.getJob(job.id)), plain(candidates[winner]));
      }
    });

    t("concurrent inserts of one id: exactly one wins, the rest get DuplicateJobError and write nothing else", async ({ store }) => {
      const id = makeJob().id;
      const extras: Job[] = [];
      const settled = await Promise.allSettled(
        Array.from({ length: 12 }, (_, i) => {
          const extra = makeJob();
          extras.push(extra);
          return store.commit({ insert: [extra, makeJob({ id, handler: `writer-${i}` })] });
        }),
      );
      const winner = settle(settled, "DuplicateJobError", "insert race");
      assert.equal((await store.getJob(id))?.handler, `writer-${winner}`);
      for (const [i, extra] of extras.entries()) {
        assert.equal(
          (await store.getJob(extra.id)) !== undefined,
          i === winner,
          `the other job of batch ${i} must be written only if it won`,
        );
      }
    });

    t("concurrent results for one job: exactly one is stored, the rest get ResultExistsError", async ({ store }) => {
      const job = makeJob();
      await store.commit({ insert: [job] });
      const results = Array.from({ length: 12 }, (_, i) => makeResult(job.id, { output: { writer: i } }));
      const settled = await Promise.allSettled(results.map((r) => store.commit({ results: [r] })));
      const winner = settle(settled, "ResultExistsError", "result race");
      assert.deepStrictEqual(plain(await store.getResult(job.id)), plain(results[winner]));
    });

    t("interleaved disjoint commits all land (chains of updates per job run concurrently)", async ({ store, rng }) => {
      const jobs = Array.from({ length: 30 }, () => makeJob());
      await Promise.all(jobs.map((j) => store.commit({ insert: [j] })));
      const finals = await Promise.all(
        jobs.map(async (j) => {
          let current = j;
          const steps = 1 + rng.int(5);
          for (let s = 0; s < steps; s++) {
            const next = bump(current, { status: s === steps - 1 ? "completed" : "running", attempts: s + 1 });
            await store.commit({ update: [{ job: next, expectedVersion: current.version }] });
            current = next;
          }
          await store.commit({ results: [makeResult(j.id, { attempts: steps })] });
          return current;
        }),
      );
      for (const f of finals) assert.deepStrictEqual(plain(await store.getJob(f.id)), plain(f));
      assert.equal((await store.countByStatus()).completed, jobs.length);
      for (const j of jobs) assert.ok(await store.getResult(j.id));
    });

    t("reads started during writes see whole batches, never half of one", async ({ store }) => {
      const pairs = Array.from({ length: 20 }, () => [makeJob(), makeJob()] as const);
      const reads: Promise<number>[] = [];
      const writes = pairs.map((pair) => {
        const w = store.commit({ insert: [...pair] });
        reads.push(store.listJobs({ limit: 10_000 }).then((p) => p.jobs.length));
        return w;
      });
      await Promise.all(writes);
      for (const n of await Promise.all(reads)) assert.equal(n % 2, 0, `a listing saw ${n} jobs: half of a two-job batch`);
      assert.equal((await store.listJobs({ limit: 10_000 })).jobs.length, 40);
    });
  });
}
