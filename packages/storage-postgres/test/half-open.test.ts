import { FaultProxy } from "@pyrexis/test-utils";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import pg from "pg";
import { StoreFailureError } from "@pyrexis/models";
import { PostgresJobStore } from "../src/index.js";
import { dropSchemas, freshSchema, job, PG_URL, rejection } from "./helpers.js";

// A connection that goes half-open (silent both ways, never closed) must not hang the store: a
// statement on it rejects after `queryTimeoutMs`, and the connection is destroyed rather than
// handed out again (a reused one would hang the next statement too).

afterAll(dropSchemas);
const toClose: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const c of toClose.splice(0).reverse()) await c.close();
});

/** A proxy in front of the test database, and the database URL through it. */
async function proxied(): Promise<{ proxy: FaultProxy; url: string }> {
  const url = new URL(PG_URL);
  const proxy = await FaultProxy.start(url.hostname, Number(url.port || 5432));
  toClose.push(proxy);
  url.port = String(proxy.port);
  return { proxy, url: url.toString() };
}

describe("half-open connections", () => {
  it("a statement on a half-open connection is a StoreFailureError after queryTimeoutMs; the connection is destroyed and the next statement works", async () => {
    const schema = freshSchema("half");
    const { proxy, url } = await proxied();
    const store = await PostgresJobStore.open({ connectionString: url, poolSize: 2 }, { schema, listen: false, queryTimeoutMs: 300 });
    toClose.push(store);
    await store.commit({ insert: [job("a")] });

    proxy.freeze();
    const e = await rejection(store.getJob("a"));
    expect(e).toBeInstanceOf(StoreFailureError);
    expect(e.message).toMatch(/no answer from PostgreSQL in 300 ms/);
    // The pool's only connection was the frozen one; an idle connection is handed out before a
    // new one is made, so had it gone back to the pool this statement would time out too.
    expect((await store.getJob("a"))?.id).toBe("a");

    // A transaction cut mid-way rejects and writes nothing (the server never saw it).
    proxy.freeze();
    expect(await rejection(store.commit({ insert: [job("b")] }))).toBeInstanceOf(StoreFailureError);
    expect(await store.getJob("b")).toBeUndefined();
    await store.commit({ insert: [job("b")] });
    expect((await store.getJob("b"))?.id).toBe("b");
  });

  it("a pool you made gets the same timeout: the half-open client leaves the pool, and the pool is not ended", async () => {
    const schema = freshSchema("halfpool");
    const { proxy, url } = await proxied();
    const pool = new pg.Pool({ connectionString: url, max: 2, application_name: `pyrexis:${schema}` });
    pool.on("error", () => undefined);
    toClose.push({ close: () => pool.end() });
    const store = await PostgresJobStore.open({ pool }, { schema, listen: false, queryTimeoutMs: 300 });
    toClose.push(store);
    await store.commit({ insert: [job("a")] });
    proxy.freeze();
    expect(await rejection(store.countByStatus())).toBeInstanceOf(StoreFailureError);
    expect(pool.totalCount).toBe(0);
    expect((await store.countByStatus()).pending).toBe(1);
    await store.close();
    expect((await pool.query<{ one: number }>("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
  });
});
