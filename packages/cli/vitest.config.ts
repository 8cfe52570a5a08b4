import { defineProject } from "vitest/config";

export default defineProject({
  // The tests spawn the real bin; a worker test waits for jobs in thread and process pools.
  test: { name: "cli", include: ["test/**/*.test.ts"], testTimeout: 30_000, hookTimeout: 30_000 },
});
