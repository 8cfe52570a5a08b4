// Scenario — many engines on one PostgreSQL database (see multi-engine-scenario.ts), plus a fault
// of its own: in some rounds, the database connections of the engines are terminated
// (`pg_terminate_backend`), so pools, claims in flight and LISTEN connections must recover.
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import pg from "pg";
import { afterAll, afterEach, describe, it } from "vitest";
import { tempDir } from "@pyrexis/test-utils";
import { killLiveChildren, seedFor } from "./helpers.js";
import { ROUNDS, runMultiEngineScenario } from "./multi-engine-scenario.js";

/** The database: `PYREXIS_PG_URL`, else `DATABASE_URL`, else the local server (unreachable: the test fails). */
const PG_URL = process.env.PYREXIS_PG_URL ?? process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const schema = `pyx_rel_${randomBytes(5).toString("hex")}`;

async function admin<R extends pg.QueryResultRow>(text: string, params: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    return (await client.query<R>(text, params)).rows;
  } finally {
    await client.end();
  }
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  killLiveChildren();
  for (const c of cleanups.splice(0)) c();
});
afterAll(async () => {
  await admin(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
});

describe("many engines on one PostgreSQL database: kills, pauses longer than the lease, connections terminated, a poison job, cancels", () => {
  it(`every job terminal with exactly one result; no double claim; overlaps only after an expired lease (${ROUNDS} rounds)`, async () => {
    const seed = seedFor("multi-engine-postgres", 0x9e37);
    const { dir, remove } = tempDir("pyrexis-multi-pg-");
    cleanups.push(remove);
    const url = new URL(PG_URL);
    url.searchParams.set("schema", schema);
    await runMultiEngineScenario({
      name: "multi-engine-postgres",
      seed,
      store: url.toString(),
      log: join(dir, "runs.log"),
      // Terminate the engines' sessions (their pools and listeners: every statement they send
      // names the scenario's schema), now and then. Nobody else's connections are touched.
      extraFault: async (random) => {
        if (random() >= 0.4) return undefined;
        const rows = await admin<{ n: string }>(
          "SELECT count(pg_terminate_backend(pid))::text AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend' AND position($1 in query) > 0",
          [schema],
        );
        return `terminated ${rows[0]?.n ?? 0}`;
      },
    });
  });
});
