import { afterEach, beforeEach, describe, it } from "vitest";
import { describeJobStore, describeQueryJobs } from "@pyrexis/storage/conformance";
import { SqliteJobStore } from "../src/index.js";
import { tempDir } from "@pyrexis/test-utils";

// Each store in a fresh directory, removed when the test that made it finishes.
describeJobStore(
  { describe, it, beforeEach, afterEach },
  {
    name: "SqliteJobStore (file)",
    create: () => SqliteJobStore.open({ path: tempDir("pyrexis-sqlite-").file("store.db") }),
    reopen: (previous) => SqliteJobStore.open({ path: (previous as SqliteJobStore).location }),
  },
);

describeQueryJobs(
  { describe, it, beforeEach, afterEach },
  { name: "SqliteJobStore (file)", create: () => SqliteJobStore.open({ path: tempDir("pyrexis-sqlite-").file("store.db") }) },
);
