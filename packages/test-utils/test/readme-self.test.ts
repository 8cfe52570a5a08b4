// This package's README, checked the way it tells every other package to check theirs.
import { expect } from "vitest";
import { describeReadmeExamples } from "../src/readme/index.js";

describeReadmeExamples(new URL("../README.md", import.meta.url), {
  expectOutput: {
    "pyrexis-test-utils.ts": ({ stdout }) => expect(stdout).toBe("true\ntrue\nreleased\n0.6011037519201636\n"),
  },
});
