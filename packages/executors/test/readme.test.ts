// The README's examples are compiled and run as a user would (use.ts loads the README's
// handlers.mjs in a real thread pool); what they print is what the README claims.
import { expect } from "vitest";
import { describeReadmeExamples } from "@pyrexis/test-utils/readme";

describeReadmeExamples(new URL("../README.md", import.meta.url), {
  expectOutput: {
    "use.ts": ({ stdout }) => expect(stdout).toBe("{ done: 1, of: 2 }\n{ done: 2, of: 2 }\n{ vectors: 2 }\n"),
    "use-2.ts": ({ stdout }) => expect(stdout).toBe("output hi ada\n"),
  },
});
