import { testConfig } from "@pyrexis/test-utils/vitest";

export default testConfig({ name: "models", testTimeout: 20_000, hookTimeout: 20_000 });
