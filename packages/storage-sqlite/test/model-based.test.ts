import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import type { Job, Result } from "@pyrexis/models";
import { MemoryJobStore, type CommitBatch, type JobStore } from "@pyrexis/storage";
import { SqliteJobStore } from "../src/index.js";
import { job, result } from "./helpers.js";

// Atomicity against the reference store: random batches (valid and violating) go to both stores;
// each must accept or reject the same batches with the same error code and end with the same data.
const SEED = Number(process.env.PYREXIS_TEST_SEED ?? 20_251_126);
const IDS = ["a", "b", "c", "d", "e"];

type Op =
  | { kind: "insert"; id: string; createdAt: number }
  | { kind: "update"; id: string; versionDelta: number; createdAt?: number }
  | { kind: "result"; id: string };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant("insert" as const), id: fc.constantFrom(...IDS), createdAt: fc.integer({ min: 1, max: 3 }) }),
  fc.record({ kind: fc.constant("update" as const), id: fc.constantFrom(...IDS), versionDelta: fc.integer({ min: -1, max: 1 }) }),
  fc.record({ kind: fc.constant("result" as const), id: fc.constantFrom(...IDS) }),
);

/** Builds a batch from ops, reading current versions from the reference store. */
async function toBatch(ops: Op[], reference: JobStore): Promise<CommitBatch> {
  const insert: Job[] = [];
  const update: { job: Job; expectedVersion: number }[] = [];
  const results: Result[] = [];
  for (const op of ops) {
    if (op.kind === "insert") insert.push(job(op.id, op.createdAt));
    else if (op.kind === "result") results.push(result(op.id));
    else {
      const current = (await reference.getJob(op.id)) ?? job(op.id, 1);
      // versionDelta 0 is a correct CAS; ±1 is stale.
      const expectedVersion = Math.max(0, current.version + op.versionDelta);
      update.push({ job: { ...current, attempts: current.attempts + 1, version: expectedVersion + 1 }, expectedVersion });
    }
  }
  return { insert, update, results };
}

async function outcome(store: JobStore, batch: CommitBatch): Promise<string> {
  try {
    await store.commit(structuredClone(batch));
    return "ok";
  } catch (e) {
    return (e as { code?: string }).code ?? String(e);
  }
}

describe("model-based: SqliteJobStore behaves like MemoryJobStore", () => {
  beforeAll(() => console.log(`model-based seed: ${SEED} (set PYREXIS_TEST_SEED to replay)`));

  it("same accept/reject decisions, error codes and final data for random batches", { timeout: 30_000 }, async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(opArb, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 12 }), async (batches) => {
        const memory = new MemoryJobStore({ ownership: "clone" });
        const sqlite = await SqliteJobStore.open({ path: ":memory:" });
        try {
          for (const ops of batches) {
            const batch = await toBatch(ops, memory);
            expect(await outcome(sqlite, batch)).toBe(await outcome(memory, batch));
          }
          for (const id of IDS) {
            expect(await sqlite.getJob(id)).toEqual(await memory.getJob(id));
            expect(await sqlite.getResult(id)).toEqual(await memory.getResult(id));
          }
          expect(await sqlite.listJobs({ order: "desc" })).toEqual(await memory.listJobs({ order: "desc" }));
          expect(await sqlite.countByStatus()).toEqual(await memory.countByStatus());
        } finally {
          await sqlite.close();
          await memory.close();
        }
      }),
      { seed: SEED, numRuns: 150 },
    );
  });
});
