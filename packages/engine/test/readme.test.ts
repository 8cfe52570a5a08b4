// The README's examples are compiled and run as a user would (main.ts loads the compiled
// handlers.ts in a real thread pool); what they print is what the README claims.
import { expect } from "vitest";
import { describeReadmeExamples } from "@pyrexis/test-utils/readme";

describeReadmeExamples(new URL("../README.md", import.meta.url), {
  expectOutput: {
    "cron-schedules.ts": ({ stdout, stderr }) => {
      expect(stdout).toBe("[ 'nightly-reindex next 2026-03-08T07:00:00.000Z' ]\nreindexed docs\n");
      expect(stderr).toBe("");
    },
    "fan-out-fan-in.ts": ({ stdout, stderr }) => {
      expect(stdout).toBe(
        "split doc-7, embed 0, embed 1, embed 2, index\njob index-empty did not run: its dependency split-empty failed\n",
      );
      expect(stderr).toBe("");
    },
    "llm-api-with-a-tokens-per-minute-budget.ts": ({ stdout, stderr }) => {
      expect(stdout).toBe("{ answer: 'HELLO' }\n{ answer: 'SUMMARIZE THIS' }\n{ answer: 'TRANSLATE THAT' }\n");
      expect(stderr).toBe("");
    },
    "batching-handlers.ts": ({ stdout, stderr }) => {
      expect(stdout).toBe("[ 8, 8, 4 ] [ 3 ]\n");
      expect(stderr).toBe("");
    },
    "charging-the-real-usage.ts": ({ stdout, stderr }) => {
      expect(stdout).toBe("{ answer: 'b', billed: 180 }\n");
      expect(stderr).toBe("");
    },
    "fair-sharing-between-groups.ts": ({ stdout, stderr }) => {
      expect(stdout).toBe("backfill interactive interactive backfill interactive interactive backfill backfill backfill backfill\n");
      expect(stderr).toBe("");
    },
    "main.ts": ({ stdout, stderr }) => {
      expect(stdout).toContain("status: 'completed'");
      expect(stdout).toContain("output: { summary: 'Pyrexis runs jobs in three modes and ret…' }");
      expect(stdout.trimEnd().split("\n").at(-1)).toBe("[ 0.215, 0.101, 0.108, 0.108 ]");
      expect(stderr).toBe("");
    },
    "retention-deleting-finished-jobs.ts": ({ stdout }) => {
      expect(stdout).toMatch(/^pruned \d completed\n/);
      expect(stdout.trimEnd().split("\n").at(-1)).toBe("kept 2 completed");
    },
  },
});
