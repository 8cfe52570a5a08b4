import { defineConfig } from "vitest/config";

// One root config: every workspace package with tests is a project. `pnpm test` runs each
// package's own `vitest run` through turbo; `pnpm vitest` here runs them all in one process.
// Each project's config comes from testConfig (@pyrexis/test-utils/vitest); `silent` is a
// run-wide option, so it is repeated here: console output is shown for failing tests only.
export default defineConfig({
  test: {
    projects: ["packages/*", "apps/*", "examples/*", "reliability", "tools/*", "bench"],
    silent: "passed-only",
  },
});
