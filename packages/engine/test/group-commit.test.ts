import { describe, expect, it } from "vitest";
import { createJob, parseJobSpec, StaleVersionError, StoreFailureError, transition, type Job } from "@pyrexis/models";
import { MemoryJobStore, type CommitBatch } from "@pyrexis/storage";
import { GroupCommitter } from "../src/group-commit.js";

const pending = (id: string): Job => createJob(parseJobSpec({ id, handler: "noop" }), 1_000);

/** A memory store whose next commits fail as scripted; it records what it was asked to write. */
class ScriptedStore extends MemoryJobStore {
  readonly failures: Error[] = [];
  readonly attempts: CommitBatch[] = [];
  override async commit(batch: CommitBatch): Promise<void> {
    this.attempts.push(batch);
    const failure = this.failures.shift();
    if (failure !== undefined) throw failure;
    return super.commit(batch);
  }
}

describe("GroupCommitter", () => {
  it("a caller that throws when told its change is durable does not make the commit look failed", async () => {
    const store = new ScriptedStore();
    const a = pending("a");
    const b = pending("b");
    await store.commit({ insert: [a, b] });
    const errors: string[] = [];
    const committer = new GroupCommitter(store, { group: true, maxBatch: 100, onError: (_e, context) => errors.push(context) });
    const told: string[] = [];
    const rejected: unknown[] = [];
    committer.updateWith(transition(a, "running", 2_000, { attempts: 1 }), a.version, undefined, {
      resolve: () => {
        told.push("a");
        throw new Error("a caller's bug");
      },
      reject: (e) => rejected.push(e),
    });
    const second = committer.update(transition(b, "running", 2_000, { attempts: 1 }), b.version);
    await second;
    await committer.flush();
    expect(told).toEqual(["a"]);
    expect(rejected).toEqual([]);
    expect(errors).toEqual(["a caller of a durable change threw"]);
    // Written once: no retry of an already durable batch, no split.
    expect(store.attempts).toHaveLength(2);
    expect((await store.getJob("a"))?.status).toBe("running");
    expect((await store.getJob("b"))?.status).toBe("running");
  });

  it("a submission that failed fast is never written by a later split of its batch", async () => {
    const store = new ScriptedStore();
    const existing = pending("existing");
    const other = pending("other");
    await store.commit({ insert: [existing, other] });
    // First a store failure (the submission is rejected at once, the update retried), then a
    // contract error of the remaining batch, which is split and retried unit by unit.
    store.failures.push(new StoreFailureError("disk hiccup"), new StaleVersionError("other", 0, 1));
    const committer = new GroupCommitter(store, { group: true, maxBatch: 100, onError: () => {} });
    const submitted = committer.insert([pending("fresh")]);
    const updates = [
      committer.update(transition(existing, "running", 2_000, { attempts: 1 }), existing.version),
      committer.update(transition(other, "running", 2_000, { attempts: 1 }), other.version),
    ];
    await expect(submitted).rejects.toThrow(/disk hiccup/);
    await Promise.allSettled(updates);
    await committer.flush();
    expect(await store.getJob("fresh")).toBeUndefined();
    const later = store.attempts.slice(3); // after the set-up commit and the two scripted failures
    expect(later.some((batch) => (batch.insert ?? []).some((job) => job.id === "fresh"))).toBe(false);
    expect((await store.getJob("existing"))?.status).toBe("running");
  });
});
