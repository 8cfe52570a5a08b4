// The README's example is compiled and run as a user would; its printed lines are its claims.
import { expect } from "vitest";
import { describeReadmeExamples } from "@pyrexis/test-utils/readme";

describeReadmeExamples(new URL("../README.md", import.meta.url), {
  expectOutput: {
    "fair.ts": ({ stdout }) => expect(stdout).toBe("chat-1 chat-2 backfill-3 chat-3 backfill-4 backfill-5\n"),
    "example.ts": ({ stdout }) =>
      expect(stdout).toBe(["4 4 undefined", "retry-1", "urgent-a", "report", "https://example.com", "100", ""].join("\n")),
  },
});
