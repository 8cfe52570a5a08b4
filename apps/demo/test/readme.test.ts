// The root README's "Quick look" is compiled and run from here: this package depends on the
// engine and the SQLite store it imports, as a user's project would.
import { expect } from "vitest";
import { describeReadmeExamples } from "@pyrexis/test-utils/readme";

describeReadmeExamples(new URL("../../../README.md", import.meta.url), {
  packageDir: new URL("..", import.meta.url),
  expectOutput: {
    "quick-look.ts": ({ stdout }) => {
      expect(stdout).toContain("status: 'completed'");
      expect(stdout).toContain("output: { summary: '…' }");
    },
  },
});
