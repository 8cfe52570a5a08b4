// The README's example is compiled and run as a user would; its printed lines are its claims.
import { expect } from "vitest";
import { describeReadmeExamples } from "@pyrexis/test-utils/readme";

describeReadmeExamples(new URL("../README.md", import.meta.url), {
  expectOutput: {
    "example-batch-inference.ts": ({ stdout }) =>
      expect(stdout).toBe(
        [
          "[",
          "  { text: 'hello', label: 'short' },",
          "  { text: 'a much longer sentence', label: 'long' },",
          "  { text: 'ok', label: 'short' }",
          "]",
          "[",
          "  'preprocess 1→1',",
          "  'batch 3→2',",
          "  'model 2→2',",
          "  'flatMap 2→3',",
          "  'postprocess 3→3'",
          "]",
          "",
        ].join("\n"),
      ),
  },
});
