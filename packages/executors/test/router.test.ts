import { readdirSync, readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import fc from "fast-check";
import { UnknownModeError, isPyrexisError } from "@pyrexis/models";
import { AsyncExecutor, ExecutorRouter, createExecutors, defineHandlers, type Executor } from "../dist/index.js";
import { HANDLERS, runTask } from "./helpers.js";

const routers: ExecutorRouter[] = [];
afterEach(async () => {
  await Promise.all(routers.splice(0).map((r) => r.terminate()));
});

function fakeExecutor(log: string[], name: string, withTerminate = true): Executor {
  const executor: Executor = {
    run: async () => name,
    close: async () => {
      log.push(`close ${name}`);
    },
  };
  if (withTerminate) executor.terminate = async () => void log.push(`terminate ${name}`);
  return executor;
}

/** Child processes of this process (Linux /proc). */
function childPids(): number[] {
  const pids: number[] = [];
  for (const task of readdirSync(`/proc/${process.pid}/task`)) {
    const text = readFileSync(`/proc/${process.pid}/task/${task}/children`, "utf8").trim();
    if (text) pids.push(...text.split(/\s+/).map(Number));
  }
  return pids;
}

describe("ExecutorRouter", () => {
  it("routes modes to executors; unknown modes throw UnknownModeError listing the known ones", () => {
    const log: string[] = [];
    const router = new ExecutorRouter({ async: fakeExecutor(log, "a"), gpu: fakeExecutor(log, "g"), process: undefined });
    expect(router.modes).toEqual(["async", "gpu"]);
    expect(router.has("gpu")).toBe(true);
    expect(() => router.get("thread")).toThrow(UnknownModeError);
    try {
      router.get("thread");
    } catch (error) {
      expect(isPyrexisError(error, "UNKNOWN_MODE")).toBe(true);
      expect((error as Error).message).toContain("async, gpu");
    }
  });

  it("set() adds and replaces modes", async () => {
    const log: string[] = [];
    const router = new ExecutorRouter();
    router.set("async", fakeExecutor(log, "first")).set("custom", fakeExecutor(log, "custom"));
    router.set("async", fakeExecutor(log, "second"));
    await expect(
      router
        .get("async")
        .run({ jobId: "j", handler: "h", payload: null, attempt: 1 }, { signal: new AbortController().signal, onProgress: () => {} }),
    ).resolves.toBe("second");
    expect(() => router.set("", fakeExecutor(log, "x"))).toThrow(TypeError);
    expect(() => router.set("bad", {} as Executor)).toThrow(TypeError);
  });

  it("close() closes each executor once; terminate() falls back to close()", async () => {
    const log: string[] = [];
    const shared = fakeExecutor(log, "shared");
    const router = new ExecutorRouter({ a: shared, b: shared, c: fakeExecutor(log, "c", false) });
    await router.close();
    expect(log.sort()).toEqual(["close c", "close shared"]);
    log.length = 0;
    await router.terminate();
    expect(log.sort()).toEqual(["close c", "terminate shared"]);
  });

  it("modes stay in insertion order and get() returns what set() stored (property)", () => {
    const seed = 20_251_126;
    console.log(`fast-check seed ${seed}`);
    fc.assert(
      fc.property(fc.uniqueArray(fc.string({ minLength: 1, maxLength: 8 }), { maxLength: 12 }), (modes) => {
        const router = new ExecutorRouter();
        const executors = modes.map((m) => fakeExecutor([], m));
        modes.forEach((m, i) => router.set(m, executors[i]!));
        expect(router.modes).toEqual(modes);
        modes.forEach((m, i) => expect(router.get(m)).toBe(executors[i]));
      }),
      { seed, numRuns: 200 },
    );
  });
});

describe("createExecutors", () => {
  it("with inline handlers only, offers the async mode", async () => {
    const router = createExecutors({ handlers: defineHandlers({ double: (n: number) => n * 2 }) });
    routers.push(router);
    expect(router.modes).toEqual(["async"]);
    expect(router.get("async")).toBeInstanceOf(AsyncExecutor);
    await expect(runTask(router.get("async"), "double", 21)).resolves.toBe(42);
  });

  it("with a module, offers all three modes running the same handlers", async () => {
    const router = createExecutors({ handlersModule: HANDLERS, thread: { maxWorkers: 1 }, process: { maxWorkers: 1 } });
    routers.push(router);
    expect(router.modes).toEqual(["async", "thread", "process"]);
    for (const mode of router.modes) await expect(runTask(router.get(mode), "echo", mode)).resolves.toBe(mode);
  });

  it.skipIf(process.platform !== "linux")("spawns no child process until the process mode is used", async () => {
    const before = new Set(childPids());
    const router = createExecutors({ handlersModule: HANDLERS, thread: { maxWorkers: 1 }, process: { maxWorkers: 1 } });
    routers.push(router);
    await runTask(router.get("thread"), "echo", 1);
    await runTask(router.get("async"), "echo", 1);
    expect(childPids().filter((p) => !before.has(p))).toEqual([]);
    await runTask(router.get("process"), "echo", 1);
    expect(childPids().filter((p) => !before.has(p)).length).toBe(1);
    await router.close();
    expect(childPids().filter((p) => !before.has(p))).toEqual([]);
  });
});

describe("async executor memory", () => {
  it("does not grow the heap when every handler reads ctx.signal (no AbortSignal.any leak)", async () => {
    const { execFileSync } = await import("node:child_process");
    const { fileURLToPath } = await import("node:url");
    const script = fileURLToPath(new URL("./fixtures/signal-leak.mjs", import.meta.url));
    const growth = Number(execFileSync(process.execPath, ["--expose-gc", script], { encoding: "utf8" }));
    // 200,000 runs: a per-run leak of even 20 bytes would show as 4 MB.
    expect(growth).toBeLessThan(2_000_000);
  }, 60_000);
});
