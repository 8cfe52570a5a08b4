// Scenario 6 — load. 20,000 jobs in CI (100,000 in `pnpm test:chaos`) submitted one by one by
// 500 concurrent producers into ONE engine whose async mode runs 8 at a time (the 8 consumers),
// on a SQLite file, in a child process started with --expose-gc so heap figures are after a
// full GC. Every job runs exactly once; memory after the drain is back near where it started.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "@pyrexis/test-utils";
import { CHAOS, fixture, recordFigures } from "./helpers.js";

const N = Number(process.env.PYREXIS_LOAD_JOBS ?? (CHAOS ? 100_000 : 20_000));
const PRODUCERS = 500;

describe("load: 500 producers, one engine with 8 async consumers", () => {
  it(`runs each of ${N} jobs exactly once with bounded memory`, () => {
    const { dir, remove: cleanup } = tempDir("pyrexis-rel-");
    try {
      const r = spawnSync(process.execPath, ["--expose-gc", fixture("load.mjs"), join(dir, "load.db"), String(N), String(PRODUCERS)], {
        encoding: "utf8",
        timeout: 170_000,
      });
      expect(r.status, r.stderr).toBe(0);
      const figures = JSON.parse(r.stdout.trim()) as Record<string, number>;
      recordFigures(`load-${N}`, figures);
      expect(figures.never, "jobs never run").toBe(0);
      expect(figures.moreThanOnce, "jobs run more than once").toBe(0);
      expect(figures.completed).toBe(N);
      expect(figures.unfinished).toBe(0);
      // Nothing of the drained jobs stays reachable (a leak of ~100 bytes/job would show).
      expect(figures.heapAfterMb! - figures.heapBeforeMb!, "heap retained after the drain").toBeLessThan(16);
      // The engine holds queued jobs in memory, so the peak grows with the backlog; it must
      // stay well under what holding every job record many times over would take.
      expect(figures.peakHeapMb, "peak heap").toBeLessThan(N >= 100_000 ? 600 : 300);
    } finally {
      cleanup();
    }
  });
});
