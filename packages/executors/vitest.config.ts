import { testConfig } from "@pyrexis/test-utils/vitest";

// Tests run against dist/ (the test script builds first): workers need compiled entry files.
export default testConfig({
  name: "executors",
  testTimeout: 15_000,
  hookTimeout: 15_000,
  // Polls wait for a worker to start and report: seconds on a loaded machine, not the default 1 s.
  expect: { poll: { timeout: 10_000 } },
});
