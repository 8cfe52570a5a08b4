// The README's examples are compiled and run as a user would; their printed lines are their claims.
import { expect } from "vitest";
import { describeReadmeExamples } from "@pyrexis/test-utils/readme";

describeReadmeExamples(new URL("../README.md", import.meta.url), {
  expectOutput: {
    "example.ts": ({ stdout }) => {
      expect(stdout).toBe("true\n[ 'email' ]\n401\n");
    },
    "mount.ts": ({ stdout }) => {
      expect(stdout.split("\n")[0]).toBe("401");
      expect(stdout).toMatch(/counts: \{\s+created: 0,\s+waiting: 0,\s+pending: 0,/);
      expect(stdout).toContain("readOnly: false");
    },
  },
});
