import { afterAll, afterEach, beforeEach, describe, it } from "vitest";
import { describeJobStore, describeSchedules } from "@pyrexis/storage/conformance";
import type { PostgresJobStore } from "../src/index.js";
import { dropSchemas, freshSchema, openStore } from "./helpers.js";

// Each store on a fresh schema of the test database; the schemas are dropped at the end. A second
// handle is a second pool on the same schema, as another machine would open it. The claims cases
// inject the store's clock (PostgreSQL's now() otherwise).
const withClock = (options: { clock?: { now(): number } | undefined } | undefined): { clock?: { now(): number } } =>
  options?.clock ? { clock: options.clock } : {};

describeJobStore(
  { describe, it, beforeEach, afterEach },
  {
    name: "PostgresJobStore",
    create: (options) => openStore(freshSchema("conf"), withClock(options)),
    reopen: (previous, options) => openStore((previous as PostgresJobStore).schema, withClock(options)),
    openSecond: (store, options) => openStore((store as PostgresJobStore).schema, withClock(options)),
  },
);

describeSchedules(
  { describe, it, beforeEach, afterEach },
  {
    name: "PostgresJobStore",
    create: () => openStore(freshSchema("sched")),
    reopen: (previous) => openStore((previous as PostgresJobStore).schema),
    openSecond: (store) => openStore((store as PostgresJobStore).schema),
  },
);

afterAll(dropSchemas);
