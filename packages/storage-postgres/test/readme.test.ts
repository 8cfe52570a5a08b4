// The README's example is compiled and run as a user would, on a schema dropped before and after.
import { afterAll, beforeAll, expect } from "vitest";
import { describeReadmeExamples } from "@pyrexis/test-utils/readme";
import { admin } from "./helpers.js";

const drop = (): Promise<unknown> => admin('DROP SCHEMA IF EXISTS "pyrexis_readme" CASCADE');
beforeAll(drop);
afterAll(drop);

describeReadmeExamples(new URL("../README.md", import.meta.url), {
  expectOutput: {
    "example.ts": ({ stdout }) => {
      expect(stdout).toMatch(/^completed \{/);
      expect(stdout).toContain("completed: 1");
      expect(stdout).toContain("running: 0");
    },
  },
});
