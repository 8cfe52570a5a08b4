import { testConfig } from "@pyrexis/test-utils/vitest";

// Chaos scenarios spawn processes and pools: run files one at a time on a 2-core machine and
// give each scenario a generous (but bounded) timeout; every wait inside is condition-based.
export default testConfig({
  name: "reliability",
  testTimeout: 180_000,
  hookTimeout: 60_000,
  fileParallelism: false,
});
