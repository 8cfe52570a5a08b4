// The vitest settings every package shares, so a passing `pnpm test` prints one line per test
// and a failing test prints everything it (and the processes it started) wrote.
import { fileURLToPath } from "node:url";
import { defineConfig, type TestUserConfig, type ViteUserConfig } from "vitest/config";

/** Absolute path of the setup file that routes raw stdout/stderr writes through the console. */
export const ROUTE_OUTPUT_SETUP: string = fileURLToPath(new URL("./route-output.js", import.meta.url));

/** A package's test settings: `name` is required, the rest as in vitest's `test` block. */
export type TestConfigOptions = TestUserConfig & { readonly name: string };

/**
 * A package's vitest config: tests in `test/**\/*.test.ts`; console output, and what child
 * processes and workers write, shown only for failing tests (`silent: "passed-only"` plus the
 * route-output setup file); everything else as given.
 *
 * @example
 * ```ts
 * // packages/models/vitest.config.ts
 * import { testConfig } from "@pyrexis/test-utils/vitest";
 *
 * export default testConfig({ name: "models", testTimeout: 20_000 });
 * ```
 */
export function testConfig(options: TestConfigOptions): ViteUserConfig {
  const setupFiles = options.setupFiles === undefined ? [] : Array.isArray(options.setupFiles) ? options.setupFiles : [options.setupFiles];
  return defineConfig({
    test: {
      include: ["test/**/*.test.ts"],
      ...options,
      silent: "passed-only",
      setupFiles: [ROUTE_OUTPUT_SETUP, ...setupFiles],
    },
  });
}
