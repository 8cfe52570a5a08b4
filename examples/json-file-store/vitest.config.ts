import { testConfig } from "@pyrexis/test-utils/vitest";

export default testConfig({ name: "example-json-file-store" });
