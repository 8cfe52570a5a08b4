import { defineProject } from "vitest/config";

export default defineProject({
  // Tests run against dist/ (the test script builds first): workers need compiled entry files.
  test: { name: "executors", include: ["test/**/*.test.ts"], testTimeout: 15_000, hookTimeout: 15_000 },
});
