import { testConfig } from "@pyrexis/test-utils/vitest";

// One PostgreSQL server is shared by every test file: files run one after another.
export default testConfig({ name: "storage-postgres", testTimeout: 30_000, hookTimeout: 30_000, fileParallelism: false });
