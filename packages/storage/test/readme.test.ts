// The README's examples are compiled and run as a user would; their printed lines are their claims.
import { expect } from "vitest";
import { describeReadmeExamples } from "@pyrexis/test-utils/readme";

describeReadmeExamples(new URL("../README.md", import.meta.url), {
  expectOutput: {
    "using-memoryjobstore.ts": ({ stdout }) => expect(stdout).toBe("true\n1 running\n"),
    "prune-deleting-finished-work.ts": ({ stdout }) => expect(stdout).toBe("deleted 1\n1 running, 1 completed\n"),
  },
});
