import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { TimeoutError, isPyrexisError } from "@pyrexis/models";
import type { ProcessExecutor, ThreadExecutor } from "../dist/index.js";
import { isAlive, poolExecutors, rejectionOf, runTask, type PoolMode } from "./helpers.js";

const make = poolExecutors({ maxWorkers: 2, abortGraceMs: 100 });

interface Who {
  pid: number;
  threadId: number;
}
/** Identifies the worker: the thread id in thread mode, the pid in process mode. */
async function whoami(executor: ThreadExecutor | ProcessExecutor, mode: PoolMode): Promise<number> {
  const who = (await runTask(executor, "whoami")) as Who;
  return mode === "thread" ? who.threadId : who.pid;
}

async function expectCrash(promise: Promise<unknown>, jobId: string, detail?: RegExp): Promise<void> {
  const error = await rejectionOf(promise);
  expect(isPyrexisError(error, "WORKER_CRASHED")).toBe(true);
  expect(error.message).toContain(jobId);
  if (detail) expect(error.message).toMatch(detail);
}

describe.each(["thread", "process"] as const)("%s executor: crashes", (mode) => {
  it("process.exit in a handler fails the attempt with WorkerCrashedError and the worker is replaced", async () => {
    const executor = make(mode);
    await expectCrash(runTask(executor, "exit", { code: 3 }, { jobId: "exit-job" }), "exit-job", /code 3/);
    await expect(runTask(executor, "echo", "after")).resolves.toBe("after");
  });

  it("an uncaught exception outside the handler fails the attempt", async () => {
    const executor = make(mode);
    await expectCrash(runTask(executor, "throwLater", null, { jobId: "late-job" }), "late-job");
    await expect(runTask(executor, "echo", "after")).resolves.toBe("after");
  });

  it("a handler that blocks its worker and ignores the abort is killed after the grace period", async () => {
    const executor = make(mode, { maxWorkers: 1 });
    const before = await whoami(executor, mode);
    const controller = new AbortController();
    const reason = new TimeoutError("spin-job", 10);
    const progress: unknown[] = [];
    const run = rejectionOf(runTask(executor, "spin", { ms: 60_000 }, { signal: controller.signal, progress }));
    await expect.poll(() => progress.length).toBe(1);
    controller.abort(reason);
    expect(await run).toBe(reason);
    // The blocked worker is gone and a fresh one serves the next task.
    const after = await whoami(executor, mode);
    expect(after).not.toBe(before);
    if (mode === "process") await expect.poll(() => isAlive(before)).toBe(false);
  });

  it("tasks sharing a killed worker fail with WorkerCrashedError that says why", async () => {
    const executor = make(mode, { maxWorkers: 1, concurrentTasksPerWorker: 2 });
    const bystander = runTask(executor, "sleep", { ms: 30_000 }, { jobId: "bystander" });
    const controller = new AbortController();
    const progress: unknown[] = [];
    const hung = rejectionOf(runTask(executor, "hang", null, { signal: controller.signal, progress, jobId: "hung" }));
    await expect.poll(() => progress.length).toBe(1);
    controller.abort(new TimeoutError("hung", 1));
    await hung;
    await expectCrash(bystander, "bystander", /hung ignored its abort/);
  });

  it("recycles a worker after recycleAfterTasks tasks", async () => {
    const executor = make(mode, { maxWorkers: 1, recycleAfterTasks: 2 });
    const ids: number[] = [];
    for (let i = 0; i < 6; i++) ids.push(await whoami(executor, mode));
    expect(ids[0]).toBe(ids[1]);
    expect(ids[2]).toBe(ids[3]);
    expect(ids[4]).toBe(ids[5]);
    expect(new Set(ids).size).toBe(3);
  });

  it("recycles a worker whose memory is above maxMemoryMb", async () => {
    const executor = make(mode, { maxWorkers: 1, maxMemoryMb: 1 });
    const ids: number[] = [];
    for (let i = 0; i < 3; i++) ids.push(await whoami(executor, mode));
    expect(new Set(ids).size).toBe(3);
  });

  it("keeps a worker whose memory stays below maxMemoryMb", async () => {
    const executor = make(mode, { maxWorkers: 1, maxMemoryMb: 64 * 1024 });
    const ids: number[] = [];
    for (let i = 0; i < 3; i++) ids.push(await whoami(executor, mode));
    expect(new Set(ids).size).toBe(1);
  });

  it("handlers, and processes they start, see the real process.memoryUsage (the worker preload changes tinypool's copy only)", async () => {
    const executor = make(mode, { maxWorkers: 1 });
    const seen = (await runTask(executor, "memory")) as { rss: number; preloaded: boolean; childRss: number };
    expect(seen.preloaded).toBe(true);
    expect(seen.rss).toBeGreaterThan(1024 * 1024);
    expect(seen.childRss).toBeGreaterThan(1024 * 1024);
  });

  it("recycling under concurrent load loses no task", async () => {
    const executor = make(mode, { recycleAfterTasks: 5, concurrentTasksPerWorker: 3 });
    const outputs = await Promise.all(Array.from({ length: 60 }, (_, i) => runTask(executor, "echo", i)));
    expect(outputs).toEqual(Array.from({ length: 60 }, (_, i) => i));
  });
});

describe("thread executor: memory limit", () => {
  it("a thread that runs out of memory fails the attempt and is replaced", async () => {
    const executor = make("thread", { maxWorkers: 1, resourceLimits: { maxOldGenerationSizeMb: 16 } });
    await expectCrash(runTask(executor, "oom", null, { jobId: "oom-job" }), "oom-job", /memory/i);
    await expect(runTask(executor, "echo", "after")).resolves.toBe("after");
  });
});

describe("process executor: isolation and cleanup", () => {
  it("SIGKILL of the child fails the attempt, naming the signal", async () => {
    const executor = make("process");
    await expectCrash(runTask(executor, "sigkill", null, { jobId: "killed" }), "killed", /SIGKILL/);
    await expect(runTask(executor, "echo", "after")).resolves.toBe("after");
  });

  it("leaves no child process behind after close(), including replaced ones", async () => {
    const executor = make("process");
    const pids = new Set<number>();
    for (let i = 0; i < 4; i++) pids.add(await whoami(executor, "process"));
    await rejectionOf(runTask(executor, "exit"));
    for (let i = 0; i < 4; i++) pids.add(await whoami(executor, "process"));
    expect(pids.size).toBeGreaterThanOrEqual(2);
    await executor.close();
    for (const pid of pids) expect(isAlive(pid), `pid ${pid}`).toBe(false);
  });

  it("a child whose parent was killed exits at once instead of running its task on (nobody can hear it)", async () => {
    const parent = spawn(process.execPath, [fileURLToPath(new URL("./fixtures/orphaning-parent.mjs", import.meta.url))], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    try {
      let out = "";
      parent.stdout.on("data", (d: Buffer) => (out += d.toString()));
      await expect.poll(() => /child (\d+)\n/.exec(out), { timeout: 20_000 }).not.toBeNull();
      const child = Number(/child (\d+)\n/.exec(out)![1]);
      expect(isAlive(child)).toBe(true);
      parent.kill("SIGKILL");
      // Its task sleeps a minute: only the orphan check ends it this soon.
      await expect.poll(() => isAlive(child), { timeout: 15_000, interval: 50 }).toBe(false);
    } finally {
      parent.kill("SIGKILL");
    }
  });

  it("leaves no child process behind after terminate() with a blocked task in flight", async () => {
    const executor = make("process", { maxWorkers: 1 });
    const pid = await whoami(executor, "process");
    const progress: unknown[] = [];
    const run = rejectionOf(runTask(executor, "spin", { ms: 60_000 }, { progress }));
    await expect.poll(() => progress.length).toBe(1);
    await executor.terminate();
    expect(isPyrexisError(await run, "INTERRUPTED")).toBe(true);
    expect(isAlive(pid)).toBe(false);
  });
});
