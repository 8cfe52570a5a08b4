import { testConfig } from "@pyrexis/test-utils/vitest";

export default testConfig({ name: "bench", testTimeout: 30_000 });
