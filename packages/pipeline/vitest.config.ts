import { defineProject } from "vitest/config";

export default defineProject({
  test: {
    name: "pipeline",
    include: ["test/**/*.test.ts"],
    // The worker-thread test loads dist/: rebuild it first when src/ is newer.
    globalSetup: ["./test/global-setup.ts"],
    // The memory test measures heap after forced collections.
    execArgv: ["--expose-gc"],
  },
});
