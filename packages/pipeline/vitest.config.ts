import { testConfig } from "@pyrexis/test-utils/vitest";

export default testConfig({
  name: "pipeline",
  testTimeout: 20_000,
  hookTimeout: 20_000,
  // The worker-thread test loads dist/: rebuild it first when src/ is newer.
  globalSetup: ["./test/global-setup.ts"],
  // The memory test measures heap after forced collections.
  execArgv: ["--expose-gc"],
});
