import { describe, it, beforeEach, afterEach } from "vitest";
import { describeJobStore } from "../src/conformance/index.js";
import { MemoryJobStore } from "../src/index.js";

describeJobStore({ describe, it, beforeEach, afterEach }, { name: "MemoryJobStore", create: async () => new MemoryJobStore() });
describeJobStore({ describe, it, beforeEach, afterEach }, { name: "MemoryJobStore (clone)", create: async () => new MemoryJobStore({ ownership: "clone" }) });
