// Fair sharing between groups on one engine: weighted dispatch shares, a new group's first job
// behind a 10,000-job backlog, and limits and groups together. On a store without claims the
// engine holds every queued job, so the shares hold over the whole backlog (with claims they hold
// over the jobs the engine has claimed: see the engine README).
import { describe, expect, it } from "vitest";
import { MemoryJobStore } from "@pyrexis/storage";
import { ManualClock } from "@pyrexis/models";
import { engineWith, FlakyStore, until } from "./helpers.js";

describe("groups", () => {
  it("groups weighted 3:2:1 with backlogs get dispatch shares within ±5 %", async () => {
    const started: string[] = [];
    const engine = engineWith(
      { work: () => null },
      { store: new FlakyStore(new MemoryJobStore()), groupWeights: { a: 3, b: 2 }, concurrency: { async: 1 } },
    );
    engine.on("job:started", ({ job }) => started.push(job.group ?? ""));
    await engine.submitJobs(["a", "b", "c"].flatMap((group) => Array.from({ length: 600 }, () => ({ handler: "work", group }))));
    const loop = engine.runLoop();
    await until(() => started.length >= 600, "600 starts");
    const first = started.slice(0, 600);
    const share = (g: string): number => first.filter((x) => x === g).length / 600;
    expect(Math.abs(share("a") - 3 / 6)).toBeLessThanOrEqual(0.05);
    expect(Math.abs(share("b") - 2 / 6)).toBeLessThanOrEqual(0.05);
    expect(Math.abs(share("c") - 1 / 6)).toBeLessThanOrEqual(0.05);
    await engine.shutdown({ graceMs: 0 });
    await loop;
  }, 60_000);

  it("a single job of group B behind 10,000 jobs of group A starts within one round", async () => {
    const started: string[] = [];
    const engine = engineWith({ work: () => null }, { store: new FlakyStore(new MemoryJobStore()), concurrency: { async: 1 } });
    engine.on("job:started", ({ job }) => started.push(job.id));
    await engine.submitJobs(Array.from({ length: 10_000 }, (_, i) => ({ id: `a-${i}`, handler: "work", group: "A", priority: 10 })));
    const loop = engine.runLoop();
    await until(() => started.length >= 50, "A's backlog to be running");
    const before = started.length;
    await engine.submitJob({ id: "b-0", handler: "work", group: "B", priority: 0 });
    await until(() => started.includes("b-0"), "B's job to start");
    // At most the A job already running and one more dispatch round.
    expect(started.indexOf("b-0") - before).toBeLessThanOrEqual(2);
    await engine.shutdown({ graceMs: 0 });
    await loop;
  }, 60_000);

  it("limits and groups together: a group whose jobs wait for a limit does not hold up another group", async () => {
    const clock = new ManualClock(1_800_000_000_000);
    const started: string[] = [];
    const engine = engineWith(
      { work: () => null },
      { clock, store: new FlakyStore(new MemoryJobStore()), limits: { api: { rate: { units: 1, perMs: 60_000 } } } },
    );
    engine.on("job:started", ({ job }) => started.push(job.id));
    const loop = engine.runLoop();
    await engine.submitJobs(Array.from({ length: 5 }, (_, i) => ({ id: `a-${i}`, handler: "work", group: "A", limits: [{ key: "api" }] })));
    await engine.submitJobs(Array.from({ length: 5 }, (_, i) => ({ id: `b-${i}`, handler: "work", group: "B" })));
    await until(() => started.length === 6, "B's jobs and one of A's");
    expect(started.filter((id) => id.startsWith("b-"))).toHaveLength(5);
    expect(started.filter((id) => id.startsWith("a-"))).toEqual(["a-0"]);
    await engine.shutdown({ graceMs: 0 });
    await loop;
  });
});
