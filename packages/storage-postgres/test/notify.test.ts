import { afterAll, afterEach, describe, expect, it } from "vitest";
import pg from "pg";
import { DuplicateJobError } from "@pyrexis/models";
import { waitFor, FaultProxy } from "@pyrexis/test-utils";
import { channelOf } from "../src/identifiers.js";
import { PostgresJobStore } from "../src/index.js";
import { admin, dropSchemas, freshSchema, job, openStore, PG_URL, rejection } from "./helpers.js";

// Wake-ups: one NOTIFY per write transaction on the schema's channel, and changeMark() fed by a
// LISTEN connection that is replaced when it dies or goes silent.

const toClose: { close(): Promise<unknown> }[] = [];
afterEach(async () => {
  for (const c of toClose.splice(0).reverse()) await c.close();
});
afterAll(dropSchemas);

/** A plain LISTEN client recording what arrives on `channel`. */
async function listen(channel: string): Promise<{ payloads: string[]; close(): Promise<void> }> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  const payloads: string[] = [];
  client.on("notification", (n) => {
    if (n.channel === channel) payloads.push(n.payload ?? "");
  });
  await client.query(`LISTEN "${channel}"`);
  return { payloads, close: () => client.end() };
}

/** Sends a marker on `channel` and waits for it: every earlier committed notification has then arrived. */
async function flush(channel: string, seen: { payloads: string[] }): Promise<string[]> {
  const marker = `marker-${Math.random()}`;
  await admin("SELECT pg_notify($1, $2)", [channel, marker]);
  await waitFor("the marker notification", () => seen.payloads.includes(marker));
  const before = seen.payloads.slice(0, seen.payloads.indexOf(marker));
  seen.payloads.length = 0;
  return before;
}

async function listenerPid(schema: string): Promise<number | undefined> {
  const rows = await admin<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE application_name = $1", [`pyrexis-listener:${schema}`]);
  return rows.length === 1 ? rows[0]!.pid : undefined;
}

describe("NOTIFY", () => {
  it("a commit, a claim and a reclaim notify once per transaction however many jobs; a rejected commit or an empty claim notifies nothing", async () => {
    const schema = freshSchema("notify");
    const store = await openStore(schema, { listen: false });
    toClose.push(store);
    const seen = await listen(channelOf(schema));
    toClose.push(seen);
    const jobs = Array.from({ length: 100 }, (_, i) => job(`j${i}`, { runAt: 0 }));
    await store.commit({ insert: jobs });
    expect(await flush(channelOf(schema), seen)).toHaveLength(1);
    expect(await rejection(store.commit({ insert: [job("new"), jobs[0]!] }))).toBeInstanceOf(DuplicateJobError);
    expect(await flush(channelOf(schema), seen)).toHaveLength(0);
    expect(await store.claim({ owner: "w", limit: 50, leaseMs: 10 })).toHaveLength(50);
    expect(await flush(channelOf(schema), seen)).toHaveLength(1);
    expect((await store.reclaimExpired({ limit: 50, deadOwners: ["w"] })).retried).toHaveLength(50);
    expect(await flush(channelOf(schema), seen)).toHaveLength(1);
    expect(await store.claim({ owner: "w", limit: 50, leaseMs: 10, modes: ["none-such"] })).toEqual([]);
    expect(await flush(channelOf(schema), seen)).toHaveLength(0);
  });
});

describe("changeMark", () => {
  it("moves at once for this instance's writes, and on another instance's commit through the listener", async () => {
    const schema = freshSchema("mark");
    const a = await openStore(schema);
    const b = await openStore(schema);
    toClose.push(a, b);
    const m0 = await a.changeMark();
    await a.commit({ insert: [job("mine")] });
    const m1 = await a.changeMark();
    expect(m1).not.toBe(m0);
    await b.commit({ insert: [job("theirs")] });
    await waitFor("a's mark to move after b's commit", async () => (await a.changeMark()) !== m1);
  });

  it("without a listener, reads the database's change counter, which every instance's writes move", async () => {
    const schema = freshSchema("seq");
    const a = await openStore(schema, { listen: false });
    const b = await openStore(schema, { listen: false });
    toClose.push(a, b);
    const m0 = await a.changeMark();
    await b.commit({ insert: [job("x")] });
    expect(await a.changeMark()).not.toBe(m0);
  });

  it("a listener whose backend is terminated is replaced, and notifications resume", async () => {
    const schema = freshSchema("kill");
    const a = await openStore(schema);
    const b = await openStore(schema, { listen: false });
    toClose.push(a, b);
    const old = await waitFor("a's listener", () => listenerPid(schema));
    await admin("SELECT pg_terminate_backend($1)", [old]);
    const replaced = await waitFor("a new listener", async () => {
      const pid = await listenerPid(schema);
      return pid !== undefined && pid !== old ? pid : undefined;
    });
    expect(replaced).not.toBe(old);
    // Its backend shows in pg_stat_activity a moment before the store has it LISTENing: wait for
    // a heartbeat that answers rather than asking once.
    await waitFor("the new listener to answer a heartbeat", async () => ((await a.checkListener()) ? true : undefined));
    const m = await a.changeMark();
    await b.commit({ insert: [job("after")] });
    await waitFor("a's mark to move after b's commit", async () => (await a.changeMark()) !== m);
  });

  it("a half-open listener (silent, not closed) fails its heartbeat, is replaced, and notifications resume", async () => {
    const schema = freshSchema("half");
    const url = new URL(PG_URL);
    const proxy = await FaultProxy.start(url.hostname, Number(url.port || 5432));
    toClose.push(proxy);
    url.port = String(proxy.port);
    const a = await PostgresJobStore.open(
      { connectionString: url.toString(), poolSize: 2 },
      { schema, heartbeatMs: 3_600_000, heartbeatTimeoutMs: 300 },
    );
    const b = await openStore(schema, { listen: false });
    toClose.push(b);
    try {
      proxy.freeze();
      const m = await a.changeMark();
      await b.commit({ insert: [job("unheard")] });
      expect(await a.checkListener()).toBe(false);
      await waitFor("the listener to answer again", () => a.checkListener());
      // The replacement itself counts as a change (notifications may have been missed).
      expect(await a.changeMark()).not.toBe(m);
      const m2 = await a.changeMark();
      await b.commit({ insert: [job("heard")] });
      await waitFor("a's mark to move after b's commit", async () => (await a.changeMark()) !== m2);
    } finally {
      await proxy.close();
      await a.close();
    }
  });
});
