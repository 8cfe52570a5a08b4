import { testConfig } from "@pyrexis/test-utils/vitest";

export default testConfig({ name: "metrics", testTimeout: 20_000, hookTimeout: 20_000 });
