import { testConfig } from "@pyrexis/test-utils/vitest";

export default testConfig({ name: "docs-check", testTimeout: 30_000 });
