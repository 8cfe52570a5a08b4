// Scenario — many engines on one SQLite file (see multi-engine-scenario.ts).
import { join } from "node:path";
import { afterEach, describe, it } from "vitest";
import { tempDir } from "@pyrexis/test-utils";
import { killLiveChildren, seedFor } from "./helpers.js";
import { ROUNDS, runMultiEngineScenario } from "./multi-engine-scenario.js";

const cleanups: (() => void)[] = [];
afterEach(() => {
  killLiveChildren();
  for (const c of cleanups.splice(0)) c();
});

describe("many engines on one SQLite file: kills, pauses longer than the lease, a poison job, cancels from another process", () => {
  it(`every job terminal with exactly one result; no double claim; overlaps only after an expired lease (${ROUNDS} rounds)`, async () => {
    const seed = seedFor("multi-engine", 0x4e61);
    const { dir, remove } = tempDir("pyrexis-multi-");
    cleanups.push(remove);
    await runMultiEngineScenario({ name: "multi-engine", seed, store: join(dir, "shared.db"), log: join(dir, "runs.log") });
  });
});
