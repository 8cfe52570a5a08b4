import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { isPyrexisError, type JobSpecInput, type JobStatus } from "@pyrexis/models";
import { MemoryJobStore, type JobStore } from "@pyrexis/storage";
import { SqliteJobStore } from "@pyrexis/storage-sqlite";
import { seededRandom } from "@pyrexis/test-utils";
import type { Engine } from "../src/index.js";
import { engineWith, tempDir } from "./helpers.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** Runs the engine's loop until the test ends. */
function track(engine: Engine): Engine {
  const loop = engine.runLoop();
  cleanups.push(async () => {
    await engine.shutdown();
    await loop;
  });
  return engine;
}

async function sqliteStore(): Promise<SqliteJobStore> {
  const { dir, cleanup } = tempDir("pyrexis-deps-");
  cleanups.push(cleanup);
  const store = await SqliteJobStore.open({ path: join(dir, "deps.db") });
  return store;
}

/** What the handlers saw: when each job started and ended, by a shared counter (a total order of events). */
class Trace {
  #tick = 0;
  readonly started = new Map<string, number>();
  readonly ended = new Map<string, number>();
  readonly runs = new Map<string, number>();
  start(id: string): void {
    this.started.set(id, ++this.#tick);
    this.runs.set(id, (this.runs.get(id) ?? 0) + 1);
  }
  end(id: string): void {
    this.ended.set(id, ++this.#tick);
  }
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error("expected a rejection");
}

describe("dependencies: dependsOn", () => {
  it("fan-out / fan-in: the children start after their parent, the join after every child", async () => {
    const trace = new Trace();
    const engine = track(
      engineWith(
        {
          step: async (_payload, ctx) => {
            trace.start(ctx.jobId);
            await new Promise((r) => setTimeout(r, 1));
            trace.end(ctx.jobId);
            return ctx.jobId;
          },
        },
        { concurrency: 8 },
      ),
    );
    const split = await engine.submitJob({ id: "split", handler: "step" });
    const parts = await engine.submitJobs(
      Array.from({ length: 6 }, (_, i) => ({ id: `part-${i}`, handler: "step", dependsOn: [split.id] })),
    );
    const join = await engine.submitJob({ id: "join", handler: "step", dependsOn: parts.map((p) => p.id) });
    expect(join.status).toBe("waiting");
    expect(parts.every((p) => p.status === "waiting")).toBe(true);
    const result = await engine.waitForResult("join");
    expect(result.status).toBe("completed");
    for (const p of parts) {
      expect(trace.started.get(p.id)!).toBeGreaterThan(trace.ended.get("split")!);
      expect(trace.started.get("join")!).toBeGreaterThan(trace.ended.get(p.id)!);
    }
  });

  it("a failed parent fails its dependents down the graph with DEPENDENCY_FAILED, and none of them runs", async () => {
    const ran: string[] = [];
    const engine = track(
      engineWith({
        boom: () => {
          throw new Error("model API said no");
        },
        step: (_p, ctx) => void ran.push(ctx.jobId),
      }),
    );
    await engine.submitJobs([
      { id: "root", handler: "boom", maxAttempts: 1 },
      { id: "child", handler: "step", dependsOn: ["root"] },
      { id: "grandchild", handler: "step", dependsOn: ["child"] },
      { id: "bystander", handler: "step" },
    ]);
    const child = await engine.waitForResult("child");
    const grandchild = await engine.waitForResult("grandchild");
    expect(child).toMatchObject({ status: "failed", attempts: 0, error: { code: "DEPENDENCY_FAILED", name: "DependencyFailedError" } });
    expect(child.error?.message).toContain("dependency root failed");
    expect(grandchild.error?.message).toMatch(/dependency child failed \(the chain started at job root\)/);
    await engine.waitForResult("bystander");
    expect(ran).toEqual(["bystander"]);
  });

  it("cancelling a parent cancels its waiting dependents; cancelling a waiting job cancels only its own subtree", async () => {
    const gate = new Promise<void>(() => undefined); // never resolves: the parent stays running
    const engine = track(
      engineWith({ hold: (_p, ctx) => Promise.race([gate, new Promise((r) => ctx.signal.addEventListener("abort", r))]), step: () => 1 }),
    );
    await engine.submitJobs([
      { id: "p", handler: "hold" },
      { id: "a", handler: "step", dependsOn: ["p"] },
      { id: "b", handler: "step", dependsOn: ["a"] },
      { id: "c", handler: "step", dependsOn: ["p"] },
    ]);
    await engine.cancelJob("a");
    expect((await engine.waitForResult("b")).status).toBe("cancelled");
    expect((await engine.getJob("c"))?.status).toBe("waiting");
    await engine.cancelJob("p");
    const c = await engine.waitForResult("c");
    expect(c).toMatchObject({ status: "cancelled", error: { code: "DEPENDENCY_FAILED" } });
    expect(c.error?.message).toContain("dependency p was cancelled");
  });

  it("a parent already completed (or failed) when its dependent is submitted decides it at once", async () => {
    const engine = track(engineWith({ ok: () => "ok", boom: () => Promise.reject(new Error("no")) }));
    await engine.submitJobs([
      { id: "done", handler: "ok" },
      { id: "bad", handler: "boom", maxAttempts: 1 },
    ]);
    await engine.waitForResult("done");
    await engine.waitForResult("bad");
    const [late, doomed] = await engine.submitJobs([
      { id: "late", handler: "ok", dependsOn: ["done"] },
      { id: "doomed", handler: "ok", dependsOn: ["done", "bad"] },
    ]);
    expect(late?.status).toBe("waiting"); // as submitted; the store released it in that commit
    expect((await engine.waitForResult("late")).status).toBe("completed");
    expect((await engine.waitForResult("doomed")).error?.code).toBe("DEPENDENCY_FAILED");
    expect(doomed?.id).toBe("doomed");
  });

  it("unknown parents and cycles are refused at submit with typed errors, and nothing of the batch is written", async () => {
    const store = new MemoryJobStore();
    const engine = track(engineWith({ ok: () => 1 }, { store }));
    const unknown = await rejection(
      engine.submitJobs([
        { id: "x", handler: "ok" },
        { id: "y", handler: "ok", dependsOn: ["x", "nope"] },
      ]),
    );
    expect(isPyrexisError(unknown, "UNKNOWN_DEPENDENCY")).toBe(true);
    expect(unknown).toMatchObject({ jobId: "y", parentId: "nope" });
    const cycle = await rejection(
      engine.submitJobs([
        { id: "a", handler: "ok", dependsOn: ["c"] },
        { id: "b", handler: "ok", dependsOn: ["a"] },
        { id: "c", handler: "ok", dependsOn: ["b"] },
      ]),
    );
    expect(isPyrexisError(cycle, "DEPENDENCY_CYCLE")).toBe(true);
    const self = await rejection(engine.submitJob({ id: "me", handler: "ok", dependsOn: ["me"] }));
    expect(isPyrexisError(self, "VALIDATION")).toBe(true);
    expect(store.size).toBe(0);
    // The engine still takes good work afterwards.
    await engine.submitJob({ id: "fine", handler: "ok" });
    expect((await engine.waitForResult("fine")).status).toBe("completed");
  });

  it("a store without the dependencies capability refuses dependsOn with IncompatibleStoreError, before writing", async () => {
    const inner = new MemoryJobStore();
    const store = Object.assign(Object.create(inner) as JobStore, {
      capabilities: { ...inner.capabilities, dependencies: false },
    });
    const engine = track(engineWith({ ok: () => 1 }, { store }));
    const error = await rejection(
      engine.submitJobs([
        { id: "p", handler: "ok" },
        { id: "q", handler: "ok", dependsOn: ["p"] },
      ]),
    );
    expect(isPyrexisError(error, "INCOMPATIBLE_STORE")).toBe(true);
    expect(inner.size).toBe(0);
  });

  for (const [name, open] of [
    ["memory", async (): Promise<JobStore> => new MemoryJobStore()],
    ["SQLite", sqliteStore],
  ] as const) {
    it(
      `a 10,000-node graph on ${name}, two engines: every node runs exactly once, after every parent completed`,
      { timeout: 120_000 },
      async () => {
        const random = seededRandom(0xda6);
        const N = 10_000;
        const specs: JobSpecInput[] = [];
        const parents: string[][] = [];
        for (let i = 0; i < N; i++) {
          // Up to three parents among the 200 nodes before: long chains, fan-in, fan-out and roots.
          const p = new Set<string>();
          const k = i === 0 ? 0 : Math.floor(random() * 4);
          for (let j = 0; j < k; j++) p.add(`n${Math.max(0, i - 1 - Math.floor(random() * 200))}`);
          parents.push([...p]);
          specs.push({ id: `n${i}`, handler: "node", payload: i, ...(p.size > 0 ? { dependsOn: [...p] } : {}) });
        }
        const trace = new Trace();
        const handlers = {
          node: async (_p: unknown, ctx: { jobId: string }) => {
            trace.start(ctx.jobId);
            if (random() < 0.1) await new Promise((r) => setImmediate(r));
            trace.end(ctx.jobId);
          },
        };
        const store = await open();
        // Two engines share the store (its claims keep them from running a node twice); the
        // second does not close it.
        const a = track(engineWith(handlers, { store, concurrency: 32 }));
        const b = track(engineWith(handlers, { store, concurrency: 32, closeStore: false }));
        // Submitted in batches, parents always in an earlier batch or the same one.
        for (let i = 0; i < N; i += 1000) await (i % 2000 === 0 ? a : b).submitJobs(specs.slice(i, i + 1000));
        await Promise.all([a.waitForResult(`n${N - 1}`), ...Array.from({ length: 20 }, (_, k) => b.waitForResult(`n${N - 1 - k * 37}`))]);
        const counts = await (async () => {
          for (;;) {
            const c = await store.countByStatus();
            if (c.completed === N) return c;
            const open_ = (["waiting", "pending", "running", "retrying"] as JobStatus[]).reduce((n, s) => n + c[s], 0);
            if (open_ === 0) return c;
            await new Promise((r) => setTimeout(r, 20));
          }
        })();
        expect(counts.completed).toBe(N);
        expect(trace.runs.size).toBe(N);
        expect([...trace.runs.values()].every((n) => n === 1)).toBe(true);
        const violations: string[] = [];
        for (let i = 0; i < N; i++) {
          for (const p of parents[i]!) if (trace.started.get(`n${i}`)! < trace.ended.get(p)!) violations.push(`n${i} before ${p}`);
        }
        expect(violations).toEqual([]);
      },
    );
  }
});
