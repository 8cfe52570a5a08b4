import { afterAll, afterEach, beforeEach, describe, it } from "vitest";
import { describeJobStore } from "@pyrexis/storage/conformance";
import type { PostgresJobStore } from "../src/index.js";
import { dropSchemas, freshSchema, openStore } from "./helpers.js";

// Each store on a fresh schema of the test database; the schemas are dropped at the end.
describeJobStore(
  { describe, it, beforeEach, afterEach },
  {
    name: "PostgresJobStore",
    create: () => openStore(freshSchema("conf")),
    reopen: (previous) => openStore((previous as PostgresJobStore).schema),
  },
);

afterAll(dropSchemas);
