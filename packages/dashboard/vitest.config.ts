import { testConfig } from "@pyrexis/test-utils/vitest";

// The browser tests start Chromium and real engines: generous timeouts, one file at a time.
export default testConfig({ name: "dashboard", testTimeout: 60_000, hookTimeout: 60_000, fileParallelism: false });
