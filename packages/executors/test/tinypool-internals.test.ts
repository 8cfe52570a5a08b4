// One test per assumption src/tinypool-internals.ts makes about tinypool, against raw tinypool
// pools (no Pyrexis executor in between), so an upgrade that changes one fails here, by name.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import { afterEach, describe, expect, it } from "vitest";
import { Tinypool, type TinypoolChannel, type TinypoolWorker } from "tinypool";
import {
  childExecArgv,
  currentChannelOf,
  dropExitedThread,
  failWorker,
  isTermination,
  isTinypoolEntry,
  onWorkerExit,
  poolWorkerData,
  THREAD_FLAGS,
  threadExecArgv,
  WORKER_PRELOAD,
  workerIdOf,
  workersOf,
} from "../dist/tinypool-internals.js";
import { rejectionOf } from "./helpers.js";

const PROBE = new URL("./fixtures/tinypool-probe.mjs", import.meta.url).href;
const COUNTING_PRELOAD = new URL("./fixtures/counting-memory-preload.mjs", import.meta.url).href;
type Runtime = "worker_threads" | "child_process";

const pools: Tinypool[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.destroy()));
});

/** A raw tinypool pool of one worker (unless told otherwise) on the probe module. */
function pool(runtime: Runtime, options: ConstructorParameters<typeof Tinypool>[0] = {}): Tinypool {
  const p = new Tinypool({ filename: PROBE, runtime, minThreads: 1, maxThreads: 1, ...options });
  // A worker failed while idle is reported on the pool; unheard, EventEmitter would throw it.
  p.on("error", () => {});
  pools.push(p);
  return p;
}

function onlyWorker(p: Tinypool): TinypoolWorker {
  const workers = workersOf(p);
  expect(workers).toHaveLength(1);
  return workers[0]!;
}

/**
 * Resolves with the exit arguments of `worker`. A thread is also failed from inside the exit
 * listener, as the thread link does (see the dropExitedThread test), so its pool can be destroyed.
 */
function exitOf(p: Tinypool, worker: TinypoolWorker): Promise<[number | null, string | null | undefined]> {
  return new Promise((resolve) =>
    onWorkerExit(worker, (code, signal) => {
      if (p.options.runtime === "worker_threads") dropExitedThread(p, worker, code);
      resolve([code, signal]);
    }),
  );
}

/** A few turns of the event loop: time for anything tinypool would do on its own about an event. */
async function turns(n = 5): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

describe("tinypool version", () => {
  it("is the minor these tests cover, and package.json pins it to that minor", () => {
    const require = createRequire(import.meta.url);
    const installed = (JSON.parse(readFileSync(require.resolve("tinypool/package.json"), "utf8")) as { version: string }).version;
    expect(installed).toMatch(/^2\.2\./);
    const ours = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { dependencies: Record<string, string> };
    expect(ours.dependencies.tinypool).toBe("~2.2.0");
  });
});

describe("tinypool internals the executors rely on", () => {
  it("poolWorkerData: a worker thread receives workerData as [tinypool's private data, the pool's workerData]", async () => {
    const p = pool("worker_threads", { workerData: { ours: [1, "two"] } });
    const raw = (await p.run({ op: "workerData" })) as unknown;
    expect(Array.isArray(raw)).toBe(true);
    expect(raw).toHaveLength(2);
    expect(poolWorkerData(raw)).toEqual({ ours: [1, "two"] });
  });

  it.each(["worker_threads", "child_process"] as const)(
    "workersOf (%s): lists a worker while it starts, and a replacement instead of a failed one",
    (runtime) => {
      const p = pool(runtime);
      const first = onlyWorker(p);
      failWorker(first, new Error("retire it"));
      const next = onlyWorker(p);
      expect(next).not.toBe(first);
      expect(workersOf(p)).not.toContain(first);
    },
  );

  it("workerIdOf: a thread's id is the threadId it sees, a child's is its pid", async () => {
    const threads = pool("worker_threads");
    const thread = (await threads.run({ op: "whoami" })) as { threadId: number };
    expect(workerIdOf(onlyWorker(threads))).toBe(thread.threadId);
    const children = pool("child_process");
    const id = workerIdOf(onlyWorker(children)); // known before the child ran anything
    const child = (await children.run({ op: "whoami" })) as { pid: number };
    expect(id).toBe(child.pid);
  });

  it.each(["worker_threads", "child_process"] as const)(
    "failWorker (%s): the worker's tasks reject with that very error, a replacement runs the next task",
    async (runtime) => {
      const p = pool(runtime, { concurrentTasksPerWorker: 2 });
      const [a, b] = [rejectionOf(p.run({ op: "hang" })), rejectionOf(p.run({ op: "hang" }))];
      const worker = onlyWorker(p);
      const error = new Error("retired on purpose");
      failWorker(worker, error);
      expect(await a).toBe(error);
      expect(await b).toBe(error);
      expect(await p.run({ op: "whoami" })).toMatchObject({ pid: expect.any(Number) as number });
      expect(workersOf(p)).not.toContain(worker);
    },
  );

  it("failWorker: with no task on it, the pool itself emits the error", async () => {
    const p = pool("worker_threads");
    const heard = new Promise<unknown>((resolve) => p.once("error", resolve));
    const error = new Error("idle retire");
    failWorker(onlyWorker(p), error);
    expect(await heard).toBe(error);
  });

  it("currentChannelOf: a child's channel is the last task's; onMessage's send reaches the child before that task", async () => {
    const p = pool("child_process");
    // Warm: a child that has not loaded its task module yet drops messages addressed to that module.
    await p.run({ op: "whoami" });
    const heard: unknown[] = [];
    const channel = (label: string): TinypoolChannel => ({
      onMessage: (send) => send({ probe: `${label}: sent from onMessage` }),
      postMessage: (message) => heard.push([label, message]),
    });
    const first = channel("first");
    expect(await p.run({ op: "received" }, { channel: first })).toEqual(["first: sent from onMessage"]);
    const worker = onlyWorker(p);
    expect(currentChannelOf(worker)).toBe(first);
    const second = channel("second");
    expect(await p.run({ op: "send", value: 7 }, { channel: second })).toBe("sent");
    expect(currentChannelOf(worker)).toBe(second);
    // The child's own messages (not tinypool's) went to the channel of its current task.
    expect(heard).toEqual([["second", { probe: 7 }]]);
  });

  it("currentChannelOf: onMessage runs synchronously inside run() when a ready child takes the task at once", async () => {
    const p = pool("child_process");
    await p.run({ op: "whoami" }); // the child is ready
    let handed = false;
    const done = p.run({ op: "whoami" }, { channel: { onMessage: () => (handed = true) } });
    expect(handed).toBe(true);
    await done;
  });

  it.each(["worker_threads", "child_process"] as const)(
    "isTermination (%s): destroy() rejects running and queued tasks with tinypool's termination error",
    async (runtime) => {
      const p = new Tinypool({ filename: PROBE, runtime, minThreads: 1, maxThreads: 1 });
      const running = rejectionOf(p.run({ op: "hang" }));
      const queued = rejectionOf(p.run({ op: "hang" }));
      await p.destroy();
      for (const error of [await running, await queued]) {
        expect(error.message).toBe("Terminating worker thread");
        expect(isTermination(error)).toBe(true);
      }
      expect(isTermination(new Error("Terminating worker thread, but not tinypool's"))).toBe(false);
    },
  );

  it("dropExitedThread: called from a thread's exit listener, fails the thread tinypool still lists, and its task", async () => {
    const p = pool("worker_threads");
    const worker = onlyWorker(p);
    const seen = new Promise<boolean>((resolve) =>
      onWorkerExit(worker, (code) => {
        const listed = workersOf(p).includes(worker);
        dropExitedThread(p, worker, code);
        resolve(listed);
      }),
    );
    const error = await rejectionOf(p.run({ op: "exit", code: 3 }));
    expect(await seen).toBe(true);
    expect(error.message).toBe(`worker thread ${workerIdOf(worker)} exited with code 3`);
    expect(workersOf(p)).not.toContain(worker);
    // A worker tinypool no longer lists is left alone.
    dropExitedThread(p, worker, 3);
    expect(await p.run({ op: "whoami" })).toMatchObject({ threadId: expect.any(Number) as number });
  });

  it("tinypool alone does not notice a thread that exits: the thread stays listed, its task pending, its error listener gone", async () => {
    // Not in `pools`: destroy() would wait for an exit that already happened.
    const p = new Tinypool({ filename: PROBE, runtime: "worker_threads", minThreads: 1, maxThreads: 1 });
    const worker = onlyWorker(p);
    const exited = new Promise<void>((resolve) => onWorkerExit(worker, () => resolve()));
    let settled = false;
    const task = p.run({ op: "exit", code: 3 }).finally(() => (settled = true));
    await exited;
    await turns();
    expect(workersOf(p)).toContain(worker);
    expect(settled).toBe(false);
    // Once the exit is over, failing the thread is too late: Node dropped its listeners, tinypool's too.
    expect(() => failWorker(worker, new Error("too late"))).toThrow("too late");
    // Clean up: destroy() terminates the (dead) thread, fails the task, then waits for an exit event.
    const destroyed = p.destroy();
    worker.emit("exit", 3);
    await destroyed;
    expect(isTermination(await rejectionOf(task))).toBe(true);
  });

  it("onWorkerExit: a child's exit gives (code, signal), a thread's (code) only", async () => {
    const children = pool("child_process");
    const child = onlyWorker(children);
    const childExit = exitOf(children, child);
    await rejectionOf(children.run({ op: "exit", code: 5 }));
    expect(await childExit).toEqual([5, null]);
    // Ready before it is killed (tinypool replaces no worker after one failed while starting).
    await children.run({ op: "whoami" });
    const killed = onlyWorker(children);
    const killedExit = exitOf(children, killed);
    const task = rejectionOf(children.run({ op: "hang" }));
    process.kill(workerIdOf(killed), "SIGKILL");
    await task;
    expect(await killedExit).toEqual([null, "SIGKILL"]);
    const threads = pool("worker_threads");
    const thread = onlyWorker(threads);
    const threadExit = exitOf(threads, thread);
    await rejectionOf(threads.run({ op: "exit", code: 4 }));
    expect(await threadExit).toEqual([4, undefined]);
  });

  it("a child's crash rejects its task only after the child's exit listeners ran", async () => {
    const p = pool("child_process");
    let exitSeen = false;
    onWorkerExit(onlyWorker(p), () => (exitSeen = true));
    const error = await rejectionOf(p.run({ op: "exit", code: 9 }));
    expect(error).toBeInstanceOf(Error);
    expect(exitSeen).toBe(true);
  });

  it("a child receives a task as JSON (undefined in the tuple arrives as null); a thread gets a structured clone", async () => {
    expect(await pool("child_process").run(["x", undefined])).toEqual({ arrived: ["x", null], length: 2, second: null });
    expect(await pool("worker_threads").run(["x", undefined])).toEqual({ arrived: ["x", undefined], length: 2, second: "undefined" });
  });

  it("a child starts the tasks it is handed in the order it was handed them", async () => {
    const p = pool("child_process", { concurrentTasksPerWorker: 8 });
    await p.run({ op: "whoami" });
    const order = await Promise.all(Array.from({ length: 8 }, (_, i) => p.run({ op: "start", i }) as Promise<number[]>));
    expect(order[7]).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    order.forEach((seen, i) => expect(seen.at(-1)).toBe(i));
  });
});

describe("tinypool's memory reads (the worker preload)", () => {
  it.each(["worker_threads", "child_process"] as const)(
    "installTinypoolMemoryReader (%s): tinypool's entry takes the reader when it loads, calls it after every task and reads heapUsed only; task code gets the real function",
    async (runtime) => {
      const p = pool(runtime, { execArgv: ["--import", COUNTING_PRELOAD] });
      for (let i = 0; i < 3; i++) await p.run({ op: "whoami" });
      // Read inside the fourth task: the three before it were each followed by one read.
      const seen = (await p.run({ op: "memoryReads" })) as { reads: number; fields: string[]; rss: number };
      expect(seen.reads).toBe(3);
      expect(seen.fields).toEqual(["heapUsed"]);
      expect(seen.rss).toBeGreaterThan(1024 * 1024);
    },
  );

  it.each(["worker_threads", "child_process"] as const)(
    "isTinypoolEntry (%s): a worker's main script is tinypool's entry",
    async (runtime) => {
      const argv = (await pool(runtime).run({ op: "argv" })) as string[];
      expect(isTinypoolEntry(argv[1])).toBe(true);
      expect(isTinypoolEntry(fileURLToPath(import.meta.url))).toBe(false);
      expect(isTinypoolEntry(undefined)).toBe(false);
    },
  );

  it("threadExecArgv: the preload after the main process's flags when threads accept them all, else undefined (inherit)", () => {
    const preload = ["--import", WORKER_PRELOAD.href];
    expect(threadExecArgv([])).toEqual(preload);
    const accepted = ["--enable-source-maps", "--conditions", "dev", "-C=x", "--import=file:///a.mjs", "-r", "./b.cjs", "--no-warnings"];
    expect(threadExecArgv(accepted)).toEqual([...accepted, ...preload]);
    expect(threadExecArgv(["--max-old-space-size=100"])).toBeUndefined();
    expect(threadExecArgv(["--enable-source-maps", "--expose-gc"])).toBeUndefined();
    // A flag's value is not mistaken for a flag, and an unknown flag is refused after one.
    expect(threadExecArgv(["--import", "--expose-gc"])).toEqual(["--import", "--expose-gc", ...preload]);
    expect(threadExecArgv(["--conditions", "dev", "--title=x"])).toBeUndefined();
    expect(childExecArgv(["--expose-gc"])).toEqual(["--expose-gc", ...preload]);
  });

  it("threadExecArgv: a thread accepts every flag it lets through", async () => {
    // Every flag on the allow-list, so a flag added to it is started in a real thread too.
    const execArgv = threadExecArgv([...THREAD_FLAGS, "--conditions", "dev"]);
    expect(execArgv).toBeDefined();
    expect(await pool("worker_threads", { execArgv: execArgv! }).run({ op: "whoami" })).toMatchObject({
      threadId: expect.any(Number) as number,
    });
  });
});
