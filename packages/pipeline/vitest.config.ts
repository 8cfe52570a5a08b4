import { defineProject } from "vitest/config";

export default defineProject({
  test: {
    name: "pipeline",
    include: ["test/**/*.test.ts"],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // The worker-thread test loads dist/: rebuild it first when src/ is newer.
    globalSetup: ["./test/global-setup.ts"],
    // The memory test measures heap after forced collections.
    execArgv: ["--expose-gc"],
  },
});
