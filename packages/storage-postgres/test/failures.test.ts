import { afterAll, describe, expect, it } from "vitest";
import pg from "pg";
import { StoreClosedError, StoreFailureError } from "@pyrexis/models";
import { waitFor } from "@pyrexis/test-utils";
import { PostgresJobStore } from "../src/index.js";
import { admin, dropSchemas, freshSchema, job, openStore, PG_URL, rejection } from "./helpers.js";

// What the store does when the database misbehaves: a typed StoreFailureError, nothing half
// written, and the store keeps working once the database does.

afterAll(dropSchemas);

describe("connection failures", () => {
  it("an exhausted pool is a StoreFailureError, and the store works again once a connection is free", async () => {
    const pool = new pg.Pool({ connectionString: PG_URL, max: 2, connectionTimeoutMillis: 300 });
    pool.on("error", () => undefined);
    const store = await PostgresJobStore.open({ pool }, { schema: freshSchema("pool") });
    const held = await pool.connect(); // the listener holds the other one
    try {
      const e = await rejection(store.getJob("x"));
      expect(e).toBeInstanceOf(StoreFailureError);
      expect(await rejection(store.commit({ insert: [job("x")] }))).toBeInstanceOf(StoreFailureError);
    } finally {
      held.release();
    }
    await store.commit({ insert: [job("x")] });
    expect((await store.getJob("x"))?.id).toBe("x");
    await store.close();
    // The store never ends a pool it was given.
    expect((await pool.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    await pool.end();
  });

  it("a commit whose connection is killed mid-transaction is a StoreFailureError and writes nothing", async () => {
    const schema = freshSchema("kill");
    const store = await openStore(schema, { listen: false });
    await store.commit({ insert: [job("a")] });
    const a = (await store.getJob("a"))!;
    const locker = new pg.Client({ connectionString: PG_URL });
    await locker.connect();
    try {
      await locker.query("BEGIN");
      await locker.query(`SELECT 1 FROM "${schema}".jobs WHERE id = 'a' FOR UPDATE`);
      const committing = store.commit({
        insert: [job("b")],
        update: [{ job: { ...a, status: "running", version: 1 }, expectedVersion: 0 }],
      });
      committing.catch(() => undefined);
      const pid = await waitFor("the commit to wait on the row lock", async () => {
        const rows = await admin<{ pid: number }>(
          "SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'",
          [`pyrexis:${schema}`],
        );
        return rows[0]?.pid;
      });
      await admin("SELECT pg_terminate_backend($1)", [pid]);
      expect(await rejection(committing)).toBeInstanceOf(StoreFailureError);
      await locker.query("ROLLBACK");
    } finally {
      await locker.end();
    }
    expect(await store.getJob("b")).toBeUndefined();
    expect((await store.getJob("a"))?.version).toBe(0);
    await store.commit({ insert: [job("b")] });
    expect((await store.getJob("b"))?.id).toBe("b");
    await store.close();
  });

  it("after every connection of the store is terminated, it reconnects: queries work and the listener is back", async () => {
    const schema = freshSchema("term");
    const errors: Error[] = [];
    const store = await openStore(schema, { onConnectionError: (e) => errors.push(e) });
    await store.commit({ insert: [job("a")] });
    const killed = await admin<{ pid: number }>(
      "SELECT pg_terminate_backend(pid) AS pid FROM pg_stat_activity WHERE application_name IN ($1, $2)",
      [`pyrexis:${schema}`, `pyrexis-listener:${schema}`],
    );
    expect(killed.length).toBeGreaterThanOrEqual(2); // the listener and at least one idle connection
    await waitFor("every terminated connection to be noticed", () => errors.length >= killed.length);
    expect((await store.getJob("a"))?.id).toBe("a");
    await waitFor("the listener to be back", () => store.checkListener());
    await store.close();
  });

  it("after close every method rejects with StoreClosedError, and close is idempotent", async () => {
    const store = await openStore();
    await store.close();
    await store.close();
    for (const call of [
      () => store.getJob("x"),
      () => store.claim({ owner: "w", limit: 1, leaseMs: 100 }),
      () => store.renewLeases({ owner: "w", leaseMs: 100, leases: [] }),
      () => store.reclaimExpired({ limit: 1 }),
      () => store.leaseOwners(),
      () => store.changeMark(),
    ]) {
      expect(await rejection(call())).toBeInstanceOf(StoreClosedError);
    }
  });
});

describe("deadlocks", () => {
  it(
    "a commit PostgreSQL aborts to break a deadlock is tried again and lands; the other transaction goes on",
    { timeout: 30_000 },
    async () => {
      const schema = freshSchema("deadlock");
      const store = await PostgresJobStore.open({ connectionString: PG_URL }, { schema });
      await store.commit({ insert: [job("a"), job("b")] });
      const other = new pg.Client({ connectionString: PG_URL });
      await other.connect();
      try {
        // The other session waits longer before it checks for deadlocks, so the store's
        // transaction is the one PostgreSQL aborts.
        await other.query("SET deadlock_timeout = '10s'");
        await other.query("BEGIN");
        await other.query(`SELECT id FROM "${schema}".jobs WHERE id = 'b' FOR UPDATE`);
        // Marking its parents, the insert locks a, then waits for b.
        const child = { ...job("child"), status: "waiting" as const, dependsOn: ["a", "b"] };
        const committed = store.commit({ insert: [child] });
        await waitFor("the store's transaction to wait for b", async () => {
          const rows = await admin<{ n: number }>(
            "SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted AND locktype = 'transactionid'",
          );
          return (rows[0]?.n ?? 0) > 0;
        });
        // Now the other session wants a: a cycle. The store's side is aborted and retried, which
        // waits until this transaction ends.
        const otherWants = other.query(`SELECT id FROM "${schema}".jobs WHERE id = 'a' FOR UPDATE`);
        await otherWants;
        await other.query("COMMIT");
        await committed;
        expect(await store.getJob("child")).toMatchObject({ status: "waiting", dependsOn: ["a", "b"] });
      } finally {
        await other.end();
        await store.close();
      }
    },
  );
});
