import { afterAll, describe, expect, it } from "vitest";
import { IncompatibleStoreError, StoreFailureError, ValidationError } from "@pyrexis/models";
import pg from "pg";
import { waitFor } from "@pyrexis/test-utils";
import { migrationLockKey } from "../src/identifiers.js";
import { PostgresJobStore } from "../src/index.js";
import { KNOWN_MIGRATIONS, MIGRATION_LOCK_TABLE, MIGRATION_TABLE } from "../src/migrations.js";
import { admin, PG_URL, urlWithSchema, dropSchemas, freshSchema, job, openStore, rejection } from "./helpers.js";

// Opening: many nodes at once migrate once; what this version must not touch is refused.

afterAll(dropSchemas);

describe("open and migrations", () => {
  it("eight stores opening one new schema at the same moment migrate it once, and all work", async () => {
    const schema = freshSchema("race");
    const stores = await Promise.all(Array.from({ length: 8 }, () => openStore(schema)));
    try {
      const rows = await admin<{ name: string }>(`SELECT name FROM "${schema}".${MIGRATION_TABLE} ORDER BY name`);
      expect(rows.map((r) => r.name)).toEqual([...KNOWN_MIGRATIONS]);
      await Promise.all(stores.map((s, i) => s.commit({ insert: [job(`j${i}`)] })));
      expect((await stores[0]!.countByStatus()).pending).toBe(8);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it("an open waits for the migration lock another node holds, and migrates nothing until it is released", async () => {
    const schema = freshSchema("lock");
    const holder = new pg.Client({ connectionString: PG_URL });
    await holder.connect();
    try {
      await holder.query("SELECT pg_advisory_lock(hashtext($1))", [migrationLockKey(schema)]);
      const opening = openStore(schema);
      opening.catch(() => undefined);
      await waitFor("the open to wait on the migration lock", async () => {
        const rows = await admin("SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted");
        return rows.length > 0;
      });
      expect(await admin("SELECT 1 FROM information_schema.schemata WHERE schema_name = $1", [schema])).toEqual([]);
      await holder.query("SELECT pg_advisory_unlock(hashtext($1))", [migrationLockKey(schema)]);
      const store = await opening;
      await store.close();
      expect(await admin("SELECT 1 FROM information_schema.schemata WHERE schema_name = $1", [schema])).toHaveLength(1);
    } finally {
      await holder.end();
    }
  });

  it("a schema migrated by a newer version is refused with IncompatibleStoreError and left as it was", async () => {
    const schema = freshSchema("newer");
    const store = await openStore(schema);
    await store.commit({ insert: [job("kept")] });
    await store.close();
    await admin(`INSERT INTO "${schema}".${MIGRATION_TABLE} (name, timestamp) VALUES ('9999_from_the_future', now())`);
    const e = await rejection(openStore(schema));
    expect(e).toBeInstanceOf(IncompatibleStoreError);
    expect(e.message).toContain("9999_from_the_future");
    const rows = await admin<{ id: string }>(`SELECT id FROM "${schema}".jobs`);
    expect(rows.map((r) => r.id)).toEqual(["kept"]);
  });

  it("a schema holding foreign tables is refused with IncompatibleStoreError and not touched", async () => {
    const schema = freshSchema("foreign");
    await admin(`CREATE SCHEMA "${schema}"`);
    await admin(`CREATE TABLE "${schema}".jobs (whatever int)`);
    const e = await rejection(openStore(schema));
    expect(e).toBeInstanceOf(IncompatibleStoreError);
    const tables = await admin<{ name: string }>("SELECT table_name AS name FROM information_schema.tables WHERE table_schema = $1", [
      schema,
    ]);
    expect(tables.map((t) => t.name)).toEqual(["jobs"]);
  });

  it("data and leases survive closing and reopening", async () => {
    const schema = freshSchema("reopen");
    const first = await openStore(schema);
    await first.commit({ insert: [job("a", { runAt: 0 })] });
    const [claimed] = await first.claim({ owner: "w", limit: 1, leaseMs: 3_600_000 });
    await first.close();
    const second = await openStore(schema);
    try {
      expect(await second.getJob("a")).toEqual(claimed!.job);
      expect(await second.leaseOwners()).toEqual(["w"]);
    } finally {
      await second.close();
    }
  });

  it("reopening a schema at the latest version reads only that schema: the Migrator, which lists every schema, does not run", async () => {
    // The Migrator's introspection calls has_schema_privilege on every schema of the database and
    // fails when another client drops one at that moment; an up-to-date schema must not need it.
    // Without its lock table the Migrator would create it again: its absence shows it did not run.
    const schema = freshSchema("current");
    await (await openStore(schema)).close();
    await admin(`DROP TABLE "${schema}".${MIGRATION_LOCK_TABLE}`);
    const store = await openStore(schema);
    try {
      await store.commit({ insert: [job("after-reopen")] });
      expect((await store.countByStatus()).pending).toBe(1);
      expect(
        await admin("SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = $2", [schema, MIGRATION_LOCK_TABLE]),
      ).toEqual([]);
    } finally {
      await store.close();
    }
  });

  it("a schema query parameter of the URL names the schema; a different options.schema is refused", async () => {
    const schema = freshSchema("url");
    const store = await PostgresJobStore.open({ connectionString: urlWithSchema(schema) });
    expect(store.schema).toBe(schema);
    await store.close();
    expect(await admin("SELECT 1 FROM information_schema.schemata WHERE schema_name = $1", [schema])).toHaveLength(1);
    expect(await rejection(PostgresJobStore.open({ connectionString: urlWithSchema(schema) }, { schema: "other" }))).toBeInstanceOf(
      ValidationError,
    );
    expect(await rejection(PostgresJobStore.open({ connectionString: urlWithSchema("Bad-Name") }))).toBeInstanceOf(ValidationError);
  });

  it("bad sources and options are ValidationErrors; an unreachable server is a StoreFailureError", async () => {
    for (const schema of ["", "Upper", "has-dash", "pg_catalog", "x".repeat(48), 'a"b']) {
      expect(await rejection(openStore(schema))).toBeInstanceOf(ValidationError);
    }
    expect(await rejection(PostgresJobStore.open({ connectionString: "" }))).toBeInstanceOf(ValidationError);
    expect(await rejection(PostgresJobStore.open({} as never))).toBeInstanceOf(ValidationError);
    expect(await rejection(openStore(freshSchema(), { agingRate: -1 }))).toBeInstanceOf(ValidationError);
    expect(await rejection(openStore(freshSchema(), { heartbeatMs: 0 }))).toBeInstanceOf(ValidationError);
    for (const queryTimeoutMs of [0, 9, 1.5, "1000"]) {
      expect(await rejection(openStore(freshSchema(), { queryTimeoutMs } as never))).toBeInstanceOf(ValidationError);
    }
    // Port 1 on loopback: nothing listens there.
    const e = await rejection(
      PostgresJobStore.open({ connectionString: "postgres://postgres@127.0.0.1:1/test", connectionTimeoutMs: 2_000 }),
    );
    expect(e).toBeInstanceOf(StoreFailureError);
  });
});
