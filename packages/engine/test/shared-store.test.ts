import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createJob, parseJobSpec } from "@pyrexis/models";
import { SqliteJobStore } from "@pyrexis/storage-sqlite";
import { deferred, engineWith, tempDir, until } from "./helpers.js";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

describe("a job changed by another writer (e.g. `pyrexis cancel` from another process)", () => {
  it("keeps the other writer's terminal record when a running job is cancelled elsewhere", async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const path = join(dir, "shared.db");
    const release = deferred();
    const started = deferred();
    const worker = engineWith(
      {
        work: async () => {
          started.resolve();
          await release.promise;
          return "finished anyway";
        },
      },
      { store: await SqliteJobStore.open({ path }) },
    );
    const errors: string[] = [];
    worker.on("engine:error", (e) => errors.push(e.context));
    const loop = worker.runLoop();
    const job = await worker.submitJob({ handler: "work" });
    await started.promise;
    await until(async () => (await worker.store.getJob(job.id))?.status === "running", "running is durable");

    const other = engineWith({ work: () => null }, { store: await SqliteJobStore.open({ path }) });
    const cancelled = await other.cancelJob(job.id);
    expect(cancelled.status).toBe("cancelled");
    await other.shutdown();

    release.resolve();
    const result = await worker.waitForResult(job.id);
    expect(result.status).toBe("cancelled");
    // The result above may come straight from the store; the worker's own write is refused a
    // moment later, and reported.
    await until(() => errors.some((e) => e.includes(job.id)), "the stale write to be reported");
    await until(() => worker.runningCounts().async === 0, "worker settled");
    expect(await worker.countByStatus()).toMatchObject({ cancelled: 1, completed: 0, running: 0 });
    await worker.shutdown();
    await loop;
  });

  it("picks up jobs another process submitted, without a rescan: the SQLite store has claims", async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const path = join(dir, "shared.db");
    // No rescanIntervalMs: the engine claims from the file and polls its change mark.
    const worker = engineWith({ echo: (p) => p }, { store: await SqliteJobStore.open({ path }) });
    await worker.start();
    expect(worker.store.capabilities.claims).toBe(true);
    // Another process (e.g. `pyrexis submit`) writes pending jobs straight into the store.
    const submitter = await SqliteJobStore.open({ path });
    const external = (id: string) => createJob(parseJobSpec({ id, handler: "echo", payload: id }), Date.now());
    await submitter.commit({ insert: [external("ext-1"), external("ext-2")] });
    expect(await worker.rescan()).toBe(0); // claims see every job: nothing to rescan
    const loop = worker.runLoop();
    expect((await worker.waitForResult("ext-1")).output).toBe("ext-1");
    // Submitted while the loop runs: noticed through the change mark, claimed.
    await submitter.commit({ insert: [external("ext-3")] });
    expect((await worker.waitForResult("ext-3", { signal: AbortSignal.timeout(10_000) })).output).toBe("ext-3");
    expect(await worker.countByStatus()).toMatchObject({ completed: 3, pending: 0 });
    await submitter.close();
    await worker.shutdown();
    await loop;
  });
});
