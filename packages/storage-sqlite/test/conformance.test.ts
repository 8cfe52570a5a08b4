import { afterEach, beforeEach, describe, it } from "vitest";
import { describeJobStore } from "@pyrexis/storage/conformance";
import { SqliteJobStore } from "../src/index.js";
import { tempDir } from "./helpers.js";

const dirs: ReturnType<typeof tempDir>[] = [];
describeJobStore(
  { describe, it, beforeEach, afterEach },
  {
    name: "SqliteJobStore (file)",
    create: () => {
      const d = tempDir();
      dirs.push(d);
      return SqliteJobStore.open({ path: d.file("store.db") });
    },
    reopen: (previous) => SqliteJobStore.open({ path: (previous as SqliteJobStore).location }),
    cleanup: async () => {
      for (const d of dirs.splice(0)) d.remove();
    },
  },
);
