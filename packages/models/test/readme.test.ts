// The README's example is compiled and run as a user would; its printed lines are its claims.
import { expect } from "vitest";
import { describeReadmeExamples } from "@pyrexis/test-utils/readme";

describeReadmeExamples(new URL("../README.md", import.meta.url), {
  expectOutput: {
    "example.ts": ({ stdout }) =>
      expect(stdout).toBe(["true 2000", "150 true", "invalid job spec: priority: Too big: expected number to be <=10", ""].join("\n")),
  },
});
