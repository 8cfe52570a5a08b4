// Scenario — many engines on one PostgreSQL database (see multi-engine-scenario.ts), plus faults
// of its own, one seeded pick per round:
// - the engines' database sessions terminated (`pg_terminate_backend`): pools, claims in flight
//   and LISTEN connections must recover;
// - every engine connection made half-open by the proxy they all connect through (bytes
//   swallowed both ways, nothing closed) for longer than the lease, then resumed, or destroyed,
//   or held until the engines have finished more jobs without them (only a statement timeout
//   gets an engine out of that: without one, a statement waits forever);
// - an engine's pool exhausted: its process checks out every connection its store does not hold
//   (as handlers sharing the application's pool would), so claims, renewals and commits wait.
// The audit is the scenario's: one result per job, attempts ≤ max, overlaps only after an expired
// lease (a renewal that could not land makes the engine give the job up and log it lost), lost 0.
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import pg from "pg";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { tempDir, waitFor, FaultProxy } from "@pyrexis/test-utils";
import { CHAOS, killLiveChildren, openStoreAt, seedFor, type EngineProc } from "./helpers.js";
import { LEASE_MS, ROUNDS, runMultiEngineScenario } from "./multi-engine-scenario.js";

/** The database: `PYREXIS_PG_URL`, else `DATABASE_URL`, else the local server (unreachable: the test fails). */
const PG_URL = process.env.PYREXIS_PG_URL ?? process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const schema = `pyx_rel_${randomBytes(5).toString("hex")}`;

/** Pool settings of every engine (see fixtures/multi-engine-proc.mjs). */
const ENGINE_PG = {
  // One connection for the listener, three for claims, renewals and commits.
  poolSize: 4,
  connectionTimeoutMs: 1000,
  // Shorter than a freeze, so statements sent into one time out while it lasts.
  queryTimeoutMs: 1000,
  heartbeatMs: 500,
  heartbeatTimeoutMs: 500,
  // Longer than the lease: renewals queued behind it cannot land in time.
  exhaustMs: LEASE_MS * 2,
};

async function admin<R extends pg.QueryResultRow>(text: string, params: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    return (await client.query<R>(text, params)).rows;
  } finally {
    await client.end();
  }
}

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  killLiveChildren();
  for (const c of cleanups.splice(0)) await c();
});
afterAll(async () => {
  await admin(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
});

describe("many engines on one PostgreSQL database: kills, pauses longer than the lease, connections terminated, half-open and cut, pools exhausted, a poison job, cancels", () => {
  it(`every job terminal with exactly one result; no double claim; overlaps only after an expired lease (${ROUNDS} rounds)`, async () => {
    const seed = seedFor("multi-engine-postgres", 0x9e37);
    const { dir, remove } = tempDir("pyrexis-multi-pg-");
    cleanups.push(remove);
    const url = new URL(PG_URL);
    url.searchParams.set("schema", schema);
    const proxy = await FaultProxy.start(url.hostname, Number(url.port || 5432));
    cleanups.push(() => proxy.close());
    const through = new URL(url);
    through.port = String(proxy.port);

    // Opened once, before any freeze: opening migrates under an advisory lock, which a session
    // frozen by the proxy may hold (an engine starting up) until the freeze ends.
    const watcher = await openStoreAt(url.toString());
    cleanups.push(() => watcher.close());
    const counts = {
      roundsWithWork: 0,
      terminated: 0,
      frozen: 0,
      frozenConnections: 0,
      thawed: 0,
      cut: 0,
      held: 0,
      heldProgress: 0,
      exhausted: 0,
    };
    /** Jobs in a terminal state now, or undefined when nothing is left to run. */
    const finished = async (): Promise<number | undefined> => {
      const c = await watcher.countByStatus();
      return c.pending + c.retrying + c.running === 0 ? undefined : c.completed + c.failed + c.cancelled;
    };

    const figures = await runMultiEngineScenario({
      name: "multi-engine-postgres",
      seed,
      store: url.toString(),
      engineStore: through.toString(),
      engineConfig: { pg: ENGINE_PG },
      log: join(dir, "runs.log"),
      // The long run's rounds outlast 4,000 jobs by far (faults on idle engines test little):
      // enough jobs that work is left for most rounds (see roundsWithWork).
      ...(CHAOS ? { jobs: ROUNDS * 100 } : {}),
      extraFault: async (random, engines: readonly EngineProc[]) => {
        if ((await finished()) !== undefined) counts.roundsWithWork++;
        const pick = random();
        if (pick < 0.25) {
          // Terminate the engines' sessions (their pools and listeners: every statement they
          // send names the scenario's schema). Nobody else's connections are touched.
          const rows = await admin<{ n: string }>(
            "SELECT count(pg_terminate_backend(pid))::text AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend' AND position($1 in query) > 0",
            [schema],
          );
          counts.terminated++;
          return `terminated ${rows[0]?.n ?? 0}`;
        }
        if (pick < 0.45) {
          const how = random();
          const hold = how >= 2 / 3;
          const before = await finished();
          counts.frozen++;
          counts.frozenConnections += proxy.freeze();
          const ms = LEASE_MS * 2 + Math.floor(random() * 500);
          // A held freeze catches the replacements too (frozen again every 300 ms), so that an
          // engine whose frozen statements never gave their connections back has none left.
          for (let t = 0; t < ms; t += 300) {
            await new Promise((r) => setTimeout(r, Math.min(300, ms - t)));
            if (hold) counts.frozenConnections += proxy.freeze();
          }
          if (how < 1 / 3) {
            proxy.thaw();
            counts.thawed++;
            return "frozen, thawed";
          }
          if (hold && before !== undefined) {
            // Held: the engines must finish more jobs while every connection they had stays
            // silent (new ones work). A statement that waited forever on a frozen connection
            // would stop them for good. Skipped when no engine is left to do it.
            counts.held++;
            await waitFor(
              "the engines to finish jobs while their old connections are held half-open",
              async () => {
                if (engines.every((e) => e.child.exitCode !== null || e.child.signalCode !== null)) return true;
                const now = await finished();
                if (now === undefined || now > before) {
                  counts.heldProgress++;
                  return true;
                }
                return false;
              },
              { timeoutMs: 60_000, intervalMs: 200 },
            );
          }
          proxy.cut();
          counts.cut++;
          return "frozen, cut";
        }
        // Only engines that are ready have the SIGUSR2 handler (before it, the signal ends the process).
        const ready = engines.filter((e) => e.lines.includes("ready"));
        if (pick < 0.6 && ready.length > 0) {
          ready[Math.floor(random() * ready.length)]!.child.kill("SIGUSR2");
          counts.exhausted++;
          return "pool exhausted";
        }
        return undefined;
      },
      extraFigures: (procs) => {
        const stderr = procs.map((p) => p.stderr.join("")).join("");
        return {
          ...counts,
          // What the engines reported (engine:error lines): statements that got no answer in
          // time, and waits for a pool connection that gave up.
          statementTimeouts: stderr.match(/no answer from PostgreSQL/g)?.length ?? 0,
          poolWaitsTimedOut: stderr.match(/timeout exceeded when trying to connect/gi)?.length ?? 0,
          exhaustionsCompleted: procs.reduce((n, p) => n + p.lines.filter((l) => l.startsWith("exhausted ")).length, 0),
        };
      },
    });
    expect(figures.lost).toBe(0);
  });
});
