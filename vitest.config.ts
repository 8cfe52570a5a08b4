import { defineConfig } from "vitest/config";

// One root config: every workspace package with tests is a project. `pnpm test` runs each
// package's own `vitest run` through turbo; `pnpm vitest` here runs them all in one process.
export default defineConfig({
  test: {
    projects: ["packages/*", "apps/*", "examples/*", "reliability"],
  },
});
