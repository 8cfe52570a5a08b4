// The README's example is compiled and run as a user would (its pyrexis.db lands in a temp dir).
import { expect } from "vitest";
import { describeReadmeExamples } from "@pyrexis/test-utils/readme";

describeReadmeExamples(new URL("../README.md", import.meta.url), {
  expectOutput: {
    "example.ts": ({ stdout }) => {
      expect(stdout).toMatch(/^1 \{/);
      expect(stdout).toContain("running: 1");
      expect(stdout).toContain("pending: 0");
    },
    "pruning-finished-work-and-reclaiming-space.ts": ({ stdout }) => expect(stdout).toBe("deleted 2; still pending: 1\n"),
  },
});
