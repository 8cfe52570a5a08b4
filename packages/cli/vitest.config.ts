import { testConfig } from "@pyrexis/test-utils/vitest";

// The tests spawn the real bin; a worker test waits for jobs in thread and process pools.
export default testConfig({ name: "cli", testTimeout: 30_000, hookTimeout: 30_000 });
