import { testConfig } from "@pyrexis/test-utils/vitest";

export default testConfig({ name: "demo", testTimeout: 60_000 });
