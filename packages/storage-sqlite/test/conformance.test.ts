import { afterEach, beforeEach, describe, it } from "vitest";
import { describeJobStore, describeQueryJobs, describeSchedules } from "@pyrexis/storage/conformance";
import { SqliteJobStore } from "../src/index.js";
import { tempDir } from "@pyrexis/test-utils";

// Each store in a fresh directory, removed when the test that made it finishes. A second handle
// is a second connection to the same file, as another process would open it. The claims cases
// inject the store's clock.
describeJobStore(
  { describe, it, beforeEach, afterEach },
  {
    name: "SqliteJobStore (file)",
    create: (options) => SqliteJobStore.open({ path: tempDir("pyrexis-sqlite-").file("store.db") }, { clock: options?.clock }),
    reopen: (previous, options) => SqliteJobStore.open({ path: (previous as SqliteJobStore).location }, { clock: options?.clock }),
    openSecond: (store, options) => SqliteJobStore.open({ path: (store as SqliteJobStore).location }, { clock: options?.clock }),
  },
);

describeQueryJobs(
  { describe, it, beforeEach, afterEach },
  { name: "SqliteJobStore (file)", create: () => SqliteJobStore.open({ path: tempDir("pyrexis-sqlite-").file("store.db") }) },
);

describeSchedules(
  { describe, it, beforeEach, afterEach },
  {
    name: "SqliteJobStore (file)",
    create: () => SqliteJobStore.open({ path: tempDir("pyrexis-sqlite-").file("store.db") }),
    reopen: (previous) => SqliteJobStore.open({ path: (previous as SqliteJobStore).location }),
    openSecond: (store) => SqliteJobStore.open({ path: (store as SqliteJobStore).location }),
  },
);
