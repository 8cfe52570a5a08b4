import { afterAll, beforeEach, describe, expect, it } from "vitest";
import type { Job, JobStatus } from "@pyrexis/models";
import { makeJob, makeResult } from "@pyrexis/storage/conformance";
import { SqliteJobStore } from "@pyrexis/storage-sqlite";
import { tempDir } from "@pyrexis/test-utils";
import { parseFinishedStatuses } from "../src/commands/prune.js";
import { retentionOf } from "../src/commands/worker.js";
import { parseDuration } from "../src/duration.js";
import { HANDLERS, runInProcess } from "./helpers.js";

// `pyrexis prune` and the worker's retention flags, in-process: bad input (exit 2, one clear
// line, nothing deleted), dry runs, and what a run deletes.

const DAY = 86_400_000;
const tmp = tempDir("pyrexis-cli-prune-");
afterAll(() => tmp.remove());
let db = "";
let files = 0;

/** A fresh store: finished jobs of each status at several ages (with results), and unfinished ones older than all of them. */
async function seed(): Promise<void> {
  db = tmp.file(`prune-${++files}.db`);
  const now = Date.now();
  const at = (status: JobStatus, ageDays: number, n: number): Job[] =>
    Array.from({ length: n }, (_, i) =>
      makeJob({ handler: "echo", status, attempts: 1, createdAt: now - 100 * DAY, updatedAt: now - ageDays * DAY - i }),
    );
  const jobs = [
    ...at("completed", 10, 5),
    ...at("completed", 1, 3),
    ...at("failed", 40, 2),
    ...at("failed", 10, 2),
    ...at("cancelled", 10, 1),
    ...at("pending", 90, 2),
    ...at("running", 90, 1),
    ...at("retrying", 90, 1),
  ];
  const store = await SqliteJobStore.open({ path: db });
  try {
    const finished = jobs.filter((j) => j.status === "completed" || j.status === "failed" || j.status === "cancelled");
    await store.commit({ insert: jobs, results: finished.map((j) => makeResult(j.id)) });
  } finally {
    await store.close();
  }
}

async function counts(): Promise<Record<JobStatus, number>> {
  const store = await SqliteJobStore.open({ path: db });
  try {
    return await store.countByStatus();
  } finally {
    await store.close();
  }
}

const cli = (argv: string[]) => runInProcess(argv, { cwd: tmp.dir });

beforeEach(seed);

describe("pyrexis prune: bad input is exit code 2, one line, and deletes nothing", () => {
  const cases: [string, string[], RegExp][] = [
    ["no limit at all", [], /prune needs --older-than <duration> or --keep-count <n>/],
    ["a bare number", ["--older-than", "7"], /--older-than: expected a duration like 7d/],
    ["a long unit name", ["--older-than", "7days"], /--older-than: expected a duration/],
    ["a negative duration", ["--older-than", "-1d"], /--older-than: expected a duration/],
    ["a fractional duration", ["--older-than", "1.5h"], /--older-than: expected a duration/],
    ["a zero duration", ["--older-than", "0d"], /--older-than: duration must be more than zero/],
    ["an absurd duration", ["--older-than", "99999999999999w"], /--older-than: duration "99999999999999w" is too long/],
    ["an unfinished status", ["--older-than", "1d", "--status", "pending"], /prune deletes only finished jobs .*"pending" is not one/],
    ["running among finished ones", ["--older-than", "1d", "--status", "completed,running"], /"running" is not one/],
    ["an unknown status", ["--older-than", "1d", "--status", "done"], /"done" is not one/],
    ["an empty status list", ["--older-than", "1d", "--status", ","], /--status: name at least one/],
    ["a negative count", ["--keep-count", "-1"], /--keep-count .*must be between 0 and/],
    ["a count that is not a number", ["--keep-count", "ten"], /--keep-count .*must be an integer/],
    ["a zero batch", ["--older-than", "1d", "--batch", "0"], /--batch .*between 1 and 10000/],
    ["a batch above the store limit", ["--older-than", "1d", "--batch", "10001"], /--batch .*between 1 and 10000/],
  ];
  it.each(cases)("%s", async (_name, args, pattern) => {
    const before = await counts();
    const r = await cli(["prune", ...args, "--store", db]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/^pyrexis: error: /);
    expect(r.stderr).toMatch(pattern);
    expect(await counts()).toEqual(before);
  });

  it("a missing store is exit code 1 and creates nothing", async () => {
    const r = await cli(["prune", "--older-than", "1d", "--store", tmp.file("nowhere.db")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no Pyrexis database at/);
  });
});

describe("pyrexis prune", () => {
  it("--dry-run counts what would go and deletes nothing; the real run deletes exactly that", async () => {
    const before = await counts();
    const dry = await cli(["prune", "--older-than", "7d", "--store", db, "--dry-run"]);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toBe("would prune 10 job(s) (5 completed, 4 failed, 1 cancelled)\n");
    expect(await counts()).toEqual(before);
    const run = await cli(["prune", "--older-than", "7d", "--store", db, "--batch", "2"]);
    expect(run.stdout).toBe("pruned 10 job(s) (5 completed, 4 failed, 1 cancelled)\n");
    expect(await counts()).toEqual({ ...before, completed: 3, failed: 0, cancelled: 0 });
    const again = await cli(["prune", "--older-than", "7d", "--store", db, "--json"]);
    expect(JSON.parse(again.stdout)).toEqual({ dryRun: false, deleted: { completed: 0, failed: 0, cancelled: 0 }, total: 0 });
  });

  it("--status and --keep-count: a job goes once it is older than --older-than or beyond the newest n", async () => {
    const dry = await cli([
      "prune",
      "--older-than",
      "30d",
      "--keep-count",
      "2",
      "--status",
      "completed",
      "--status",
      "failed",
      "--store",
      db,
      "--dry-run",
      "--json",
    ]);
    // completed: 8, keep the newest 2 → 6; failed: 4, keep 2 (the 40-day ones are also too old) → 2.
    expect(JSON.parse(dry.stdout)).toEqual({ dryRun: true, deleted: { completed: 6, failed: 2, cancelled: 0 }, total: 8 });
    const run = await cli(["prune", "--older-than", "30d", "--keep-count", "2", "--status", "completed,failed", "--store", db, "--json"]);
    expect(JSON.parse(run.stdout)).toMatchObject({ deleted: { completed: 6, failed: 2, cancelled: 0 } });
    expect(await counts()).toMatchObject({ completed: 2, failed: 2, cancelled: 1, pending: 2, running: 1, retrying: 1 });
  });

  it("--dry-run over many pages (seeded ages) counts exactly what the real run then deletes", async () => {
    db = tmp.file(`prune-${++files}.db`);
    const now = Date.now();
    let seed = 20_261_202;
    const random = (): number => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    const statuses = ["completed", "failed", "cancelled"] as const;
    const jobs = Array.from({ length: 2_600 }, () =>
      makeJob({
        handler: "echo",
        status: statuses[Math.floor(random() * 3)]!,
        attempts: 1,
        createdAt: now - 100 * DAY,
        updatedAt: now - Math.floor(random() * 60 * DAY),
      }),
    );
    const store = await SqliteJobStore.open({ path: db });
    await store.commit({ insert: jobs });
    await store.close();
    for (const args of [
      ["--keep-count", "500"],
      ["--older-than", "45d", "--keep-count", "300"],
      ["--older-than", "20d"],
      ["--older-than", "5d", "--keep-count", "100", "--status", "completed,failed"],
    ]) {
      const dry = await cli(["prune", ...args, "--store", db, "--dry-run", "--json"]);
      expect(dry.code, dry.stderr).toBe(0);
      const run = await cli(["prune", ...args, "--store", db, "--json"]);
      expect(JSON.parse(dry.stdout).deleted, args.join(" ")).toEqual(JSON.parse(run.stdout).deleted);
      expect(JSON.parse(run.stdout).total, args.join(" ")).toBeGreaterThan(0);
    }
  });

  it("--vacuum rewrites the SQLite file after pruning", async () => {
    const r = await cli(["prune", "--keep-count", "0", "--store", db, "--vacuum"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^pruned 13 job\(s\) \(8 completed, 4 failed, 1 cancelled\)\nvacuumed: \d+ → \d+ pages\n$/);
    expect(await counts()).toMatchObject({ completed: 0, failed: 0, cancelled: 0, pending: 2, running: 1, retrying: 1 });
  });
});

describe("worker retention flags", () => {
  it("map to the engine's retention option", () => {
    expect(retentionOf({})).toBeUndefined();
    expect(retentionOf({ keepCompleted: "7d", keepFailed: "30d" })).toEqual({
      completed: { maxAgeMs: 7 * DAY },
      failed: { maxAgeMs: 30 * DAY },
    });
    expect(retentionOf({ keepCompleted: "12h", keepCount: 1000, pruneInterval: "5m" })).toEqual({
      completed: { maxAgeMs: 12 * 3_600_000, maxCount: 1000 },
      failed: { maxCount: 1000 },
      cancelled: { maxCount: 1000 },
      intervalMs: 300_000,
    });
  });

  const cases: [string, string[], RegExp][] = [
    ["a bare number", ["--keep-completed", "7"], /--keep-completed: expected a duration like 7d/],
    ["a zero age", ["--keep-failed", "0s"], /--keep-failed: duration must be more than zero/],
    ["a unit typo", ["--keep-cancelled", "3dd"], /--keep-cancelled: expected a duration/],
    ["a zero count", ["--keep-count", "0"], /--keep-count .*between 1 and/],
    ["an interval without a rule", ["--prune-interval", "5m"], /--prune-interval needs --keep-completed/],
    ["a bad interval", ["--keep-count", "5", "--prune-interval", "soon"], /--prune-interval: expected a duration/],
  ];
  it.each(cases)("bad %s: exit code 2 before the store is opened", async (_name, args, pattern) => {
    const before = await counts();
    const r = await cli(["worker", "--handlers", HANDLERS, "--store", db, ...args]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(pattern);
    expect(await counts()).toEqual(before);
  });
});

describe("helpers", () => {
  it("parseDuration: integer and unit only", () => {
    expect(parseDuration("500ms", "--x")).toBe(500);
    expect(parseDuration("30s", "--x")).toBe(30_000);
    expect(parseDuration("90m", "--x")).toBe(5_400_000);
    expect(parseDuration("36h", "--x")).toBe(129_600_000);
    expect(parseDuration("7d", "--x")).toBe(7 * DAY);
    expect(parseDuration("2w", "--x")).toBe(14 * DAY);
    expect(parseDuration(" 1d ", "--x")).toBe(DAY);
    for (const bad of ["", "d", "7", "7 d", "7D", "1d12h", "+1d", "1e3ms", "0x10s", "1.0d", "NaNd"]) {
      expect(() => parseDuration(bad, "--x"), bad).toThrow(expect.objectContaining({ name: "UsageError", code: "USAGE" }));
    }
  });

  it("parseFinishedStatuses: default all three, lists deduplicated in a fixed order", () => {
    expect(parseFinishedStatuses(undefined)).toEqual(["completed", "failed", "cancelled"]);
    expect(parseFinishedStatuses(["cancelled,completed", "cancelled"])).toEqual(["completed", "cancelled"]);
  });
});
