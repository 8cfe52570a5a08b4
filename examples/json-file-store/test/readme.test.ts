// The README's example is compiled and run as a user would (its jobs.json lands in a temp dir);
// the conformance excerpt must match the test file it quotes.
import { expect } from "vitest";
import { describeReadmeExamples } from "@pyrexis/test-utils/readme";

describeReadmeExamples(new URL("../README.md", import.meta.url), {
  expectOutput: {
    "pyrexis-example-json-file-store.ts": ({ stdout }) =>
      expect(stdout.replace(/\s+/g, " ").trim()).toBe(
        "{ created: 0, waiting: 0, pending: 0, running: 0, retrying: 0, completed: 0, failed: 0, cancelled: 0 }",
      ),
  },
});
