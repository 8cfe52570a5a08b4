import { describe, expect, it } from "vitest";
import { isPyrexisError, ManualClock, NonRetryableError, type Job } from "@pyrexis/models";
import { MemoryJobStore, type CommitBatch } from "@pyrexis/storage";
import { makeJob } from "@pyrexis/storage/conformance";
import { engineWith, until } from "./helpers.js";

const T0 = 1_700_000_000_000;

/** A memory store that remembers every commit it was given. */
class RecordingStore extends MemoryJobStore {
  readonly batches: CommitBatch[] = [];
  override async commit(batch: CommitBatch): Promise<void> {
    await super.commit(batch);
    this.batches.push(batch);
  }
}

async function drain(engine: ReturnType<typeof engineWith>): Promise<void> {
  while ((await engine.runNext()) !== undefined);
}

const handlers = (seen: unknown[] = []) => ({
  callModel: (p: { fail?: string }) => {
    if (p.fail === "code") throw Object.assign(new Error("429 Too Many Requests"), { code: "E_RATE" });
    if (p.fail === "once") throw new NonRetryableError("bad prompt");
    return "ok";
  },
  parkFailure: (p: unknown) => void seen.push(p),
  brokenPark: () => {
    throw new NonRetryableError("the dead-letter handler itself fails");
  },
});

describe("deadLetter routing", () => {
  it("writes a failed job's dead-letter job in the same commit as the failure; the dead-letter handler gets its input and error", async () => {
    const store = new RecordingStore();
    const seen: unknown[] = [];
    const engine = engineWith(handlers(seen), { store, deadLetter: { handler: "parkFailure", priority: 9 } });
    await engine.submitJob({
      id: "p-1",
      handler: "callModel",
      payload: { fail: "code", prompt: "hi" },
      maxAttempts: 2,
      backoff: { baseMs: 0 },
    });
    await engine.runNext(); // attempt 1 fails and retries (not routed), attempt 2 fails: routed
    const failure = store.batches.find((b) => b.update?.some((u) => u.job.id === "p-1" && u.job.status === "failed"));
    expect(failure?.insert?.map((j) => j.id)).toEqual(["p-1.dead-letter"]);
    expect(store.batches.filter((b) => b.insert?.some((j) => j.id === "p-1.dead-letter"))).toHaveLength(1);
    expect(await store.getJob("p-1.dead-letter")).toMatchObject({ handler: "parkFailure", priority: 9, mode: "async", status: "pending" });
    await drain(engine);
    expect(seen).toEqual([
      {
        failedJob: { id: "p-1", handler: "callModel", mode: "async", attempts: 2, payload: { fail: "code", prompt: "hi" } },
        error: { name: "Error", message: "429 Too Many Requests", code: "E_RATE" },
      },
    ]);
    await engine.shutdown();
  });

  it("routes only failures: completed and cancelled jobs are not routed, nor are failures of the dead-letter handler itself", async () => {
    const store = new MemoryJobStore();
    const engine = engineWith(handlers(), { store, deadLetter: { handler: "brokenPark" } });
    await engine.submitJob({ id: "fine", handler: "callModel", payload: {} });
    await engine.submitJob({ id: "later", handler: "callModel", payload: {}, delayMs: 60_000 });
    await engine.cancelJob("later");
    await engine.submitJob({ id: "bad", handler: "callModel", payload: { fail: "once" } });
    await drain(engine);
    expect((await store.getJob("bad.dead-letter"))?.status).toBe("failed"); // the dead-letter handler failed...
    expect(await store.getJob("bad.dead-letter.dead-letter")).toBeUndefined(); // ...and was not routed again
    expect(await store.getJob("fine.dead-letter")).toBeUndefined();
    expect(await store.getJob("later.dead-letter")).toBeUndefined();
    await engine.shutdown();
  });

  it("an existing job with the dead-letter id does not cost the failure its durability", async () => {
    const store = new MemoryJobStore();
    const errors: string[] = [];
    const engine = engineWith(handlers(), { store, deadLetter: { handler: "parkFailure" } });
    engine.on("engine:error", ({ context }) => errors.push(context));
    await engine.submitJob({ id: "x.dead-letter", handler: "callModel", payload: {}, delayMs: 60_000 });
    await engine.submitJob({ id: "x", handler: "callModel", payload: { fail: "once" } });
    await drain(engine);
    expect(await store.getJob("x")).toMatchObject({ status: "failed" });
    expect((await store.getResult("x"))?.status).toBe("failed");
    expect((await store.getJob("x.dead-letter"))?.handler).toBe("callModel");
    expect(errors.some((c) => /follow-up job exists already/.test(c))).toBe(true);
    await engine.shutdown();
  });

  it("routes a failure the store decided: a lease that expired on the last attempt, found by a reclaim", async () => {
    const clock = new ManualClock(T0);
    const store = new MemoryJobStore({ clock });
    const job: Job = makeJob({ handler: "callModel", payload: {}, maxAttempts: 1, createdAt: T0, updatedAt: T0, runAt: T0 });
    await store.commit({ insert: [job] });
    await store.claim({ owner: "elsewhere/1/dead", limit: 1, leaseMs: 3000 }); // an engine that claimed it and died
    const engine = engineWith(handlers(), { store, clock, leaseMs: 3000, renewIntervalMs: 1000, deadLetter: { handler: "parkFailure" } });
    const loop = engine.runLoop();
    clock.advance(3000);
    await until(async () => (await store.getJob(`${job.id}.dead-letter`))?.status === "completed", "the dead-letter job ran");
    expect(await store.getJob(job.id)).toMatchObject({ status: "failed", lastError: { code: "INTERRUPTED" } });
    await engine.shutdown();
    await loop;
  });

  it("refuses a bad route with a typed error", () => {
    const bad: unknown[] = [
      {},
      { handler: "" },
      { handler: "parkFailure", priority: 11 },
      { handler: "parkFailure", maxAttempts: 0 },
      { handler: "parkFailure", colour: 1 },
      "parkFailure",
    ];
    for (const deadLetter of bad) {
      let error: unknown;
      try {
        engineWith(handlers(), { deadLetter: deadLetter as never });
      } catch (e) {
        error = e;
      }
      expect(isPyrexisError(error, "VALIDATION"), JSON.stringify(deadLetter)).toBe(true);
    }
    expect(() => engineWith(handlers(), { deadLetter: { handler: "nobody" } })).toThrow(/nobody/);
  });
});
