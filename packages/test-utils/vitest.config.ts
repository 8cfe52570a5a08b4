import { testConfig } from "@pyrexis/test-utils/vitest";

// Loaded from this package's own dist/ (turbo builds it before the tests run).
export default testConfig({ name: "test-utils", testTimeout: 20_000, hookTimeout: 20_000 });
