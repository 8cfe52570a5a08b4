import { afterAll, afterEach, describe, expect, it } from "vitest";
import pg from "pg";
import { ManualClock, transition, type Job, type JobLimit } from "@pyrexis/models";
import { MemoryJobStore, type ClaimedJob, type FlowClaimOptions, type FlowClaimRequest, type FlowJobStore } from "@pyrexis/storage";
import { PostgresJobStore } from "../src/index.js";
import { KNOWN_MIGRATIONS } from "../src/migrations.js";
import { admin, dropSchemas, freshSchema, job, openStore, PG_URL } from "./helpers.js";

// The flow capability beyond the conformance cases: the same seeded claims on PostgreSQL and on
// the memory reference give the same picks (so chunked candidate reads, refetches and the
// limits' state read up front change nothing), the migration's backfill of flow_group, corrupt
// candidates, flow claims racing plain claims, and a rate key's retention (flow_keys, migration
// 0007) when claimants count it over different windows.

const T0 = 1_000_000;
const LEASE_MS = 5_000;
const opened: PostgresJobStore[] = [];

async function open(schema: string, clock?: ManualClock): Promise<PostgresJobStore> {
  const store = await openStore(schema, clock === undefined ? {} : { clock, random: () => 0.5 });
  opened.push(store);
  return store;
}

afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
});
afterAll(dropSchemas);

/** A small deterministic generator (mulberry32). */
function rng(seed: number): { int(n: number): number; pick<T>(xs: readonly T[]): T } {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { int: (n) => Math.floor(next() * n), pick: (xs) => xs[Math.floor(next() * xs.length)]! };
}

function flowJob(id: string, extra: Parameters<typeof job>[1], group?: string, limits?: JobLimit[]): Job {
  return { ...job(id, extra), ...(group === undefined ? {} : { group }), ...(limits === undefined ? {} : { limits }) };
}

const ids = (claimed: readonly ClaimedJob[]): string[] => claimed.map((c) => c.job.id);

describe("claimFlow on PostgreSQL", () => {
  // Seed 3: claimants define api with different windows (a rolling change of perMs), so the
  // key's entries are kept for the longest one while each claim counts its own.
  for (const [seed, apiWindows] of [
    [1, [1_000]],
    [2, [1_000]],
    [3, [1_000, 2_500]],
  ] as const) {
    const windows = apiWindows.length === 1 ? "" : `, api windows of ${apiWindows.join(" and ")} ms`;
    it(`makes the memory reference's picks, refusals and retry times over a seeded run (seed ${seed}${windows})`, async () => {
      const r = rng(seed);
      const clock = new ManualClock(T0);
      const pg = await open(freshSchema("flowref"), clock);
      const memory = new MemoryJobStore({ flow: true, clock, random: () => 0.5 });
      const groups = [undefined, ...Array.from({ length: 25 }, (_, i) => `g${String(i).padStart(2, "0")}`)];
      const jobs: Job[] = [];
      for (let i = 0; i < 400; i++) {
        const limits: JobLimit[] = [];
        const kind = r.int(4);
        if (kind === 1 || kind === 3) limits.push({ key: "api", units: 1 + r.int(6) });
        if (kind === 2 || kind === 3) limits.push({ key: "gpu", units: 1 });
        jobs.push(
          flowJob(
            `j${String(i).padStart(4, "0")}`,
            {
              priority: r.int(10),
              runAt: r.int(5) === 0 ? T0 + r.int(20_000) : T0 - r.int(100_000),
              mode: r.pick(["async", "thread"]),
              handler: r.pick(["work", "work", "other"]),
            },
            r.pick(groups),
            limits.length === 0 ? undefined : limits,
          ),
        );
      }
      await pg.commit({ insert: jobs });
      await memory.commit({ insert: jobs });
      const flowOf = (perMs: number): FlowClaimOptions => ({
        limits: { api: { rate: { units: 20, perMs } }, gpu: { maxConcurrent: 4 } },
        groupWeights: { g00: 3, g01: 2, g02: 0.5 },
      });
      const running = new Map<string, [ClaimedJob, ClaimedJob]>();
      let total = 0;
      let refused = 0;
      let retries = 0;
      for (let round = 0; round < 80; round++) {
        const request: FlowClaimRequest = {
          owner: "e",
          limit: 1 + r.int(12),
          leaseMs: LEASE_MS,
          // One window draws nothing from the generator: seeds 1 and 2 make the runs they made before.
          flow: flowOf(apiWindows.length === 1 ? apiWindows[0] : r.pick(apiWindows)),
          ...(r.int(5) === 0 ? { modes: ["async"] } : {}),
          ...(r.int(6) === 0 ? { handlers: ["work"] } : {}),
          ...(r.int(8) === 0 ? { ids: Array.from({ length: 30 }, () => r.pick(jobs).id) } : {}),
        };
        const a = await pg.claimFlow(request);
        const b = await memory.claimFlow(request);
        expect(ids(a.claimed), `round ${round}`).toEqual(ids(b.claimed));
        expect(a.claimed.map((c) => c.job)).toEqual(b.claimed.map((c) => c.job));
        expect(a.claimed.map((c) => c.lease)).toEqual(b.claimed.map((c) => c.lease));
        expect([a.refused, a.retryAt], `round ${round}`).toEqual([b.refused, b.retryAt]);
        total += a.claimed.length;
        refused += a.refused;
        if (a.retryAt !== undefined) retries++;
        a.claimed.forEach((c, i) => running.set(c.job.id, [c, b.claimed[i]!]));
        // End some running jobs (their slots come back), charge some admissions.
        for (const [id, [x, y]] of [...running]) {
          const roll = r.int(4);
          if (roll === 0) {
            running.delete(id);
            for (const [store, c] of [
              [pg, x],
              [memory, y],
            ] as const) {
              await store.commit({ update: [{ job: transition(c.job, "completed", clock.now()), expectedVersion: c.lease.version }] });
            }
          } else if (roll === 1 && x.job.limits?.some((l) => l.key === "api") === true) {
            const charge = { jobId: id, version: x.lease.version, key: "api", units: r.int(4) };
            expect(await pg.chargeFlow(charge)).toBe(await memory.chargeFlow(charge));
          }
        }
        clock.advance(1 + r.int(600));
      }
      // The run exercises admissions, refusals and retry times, not only the happy path.
      expect(total).toBeGreaterThan(100);
      expect(refused).toBeGreaterThan(10);
      expect(retries).toBeGreaterThan(3);
    });
  }

  it("reads a mode's groups past the first chunks: many groups, one pick at a time, in the fair order", async () => {
    const clock = new ManualClock(T0);
    const pg = await open(freshSchema("flowmany"), clock);
    const memory = new MemoryJobStore({ flow: true, clock });
    const jobs: Job[] = [];
    for (let g = 0; g < 60; g++) for (let i = 0; i < 3; i++) jobs.push(flowJob(`g${g}-${i}`, { runAt: T0 - i }, `grp${g}`));
    await pg.commit({ insert: jobs });
    await memory.commit({ insert: jobs });
    const flow: FlowClaimOptions = { limits: {}, groupWeights: { grp7: 4 } };
    for (const limit of [1, 3, 50, 100, 2]) {
      const request: FlowClaimRequest = { owner: "e", limit, leaseMs: LEASE_MS, flow };
      expect(ids((await pg.claimFlow(request)).claimed)).toEqual(ids((await memory.claimFlow(request)).claimed));
    }
  });

  it("pages through equal claim keys by id (the keyset's tie-break) across refills, grouped and not", async () => {
    const clock = new ManualClock(T0);
    const pg = await open(freshSchema("flowties"), clock);
    const memory = new MemoryJobStore({ flow: true, clock });
    const jobs: Job[] = [];
    for (let i = 0; i < 150; i++) {
      jobs.push(flowJob(`t-${i}`, { runAt: T0 }, i % 3 === 0 ? undefined : "tied", i % 2 === 0 ? [{ key: "api", units: 1 }] : undefined));
    }
    await pg.commit({ insert: jobs });
    await memory.commit({ insert: jobs });
    // Five api jobs per window: then api is held and the claim refuses the rest of them as it
    // reads on, far past its first chunks.
    const flow: FlowClaimOptions = { limits: { api: { rate: { units: 5, perMs: 1_000 } } } };
    for (const limit of [7, 40, 120]) {
      const request: FlowClaimRequest = { owner: "e", limit, leaseMs: LEASE_MS, flow };
      const a = await pg.claimFlow(request);
      const b = await memory.claimFlow(request);
      expect(ids(a.claimed)).toEqual(ids(b.claimed));
      expect([a.refused, a.retryAt]).toEqual([b.refused, b.retryAt]);
      expect(new Set(ids(a.claimed)).size).toBe(a.claimed.length);
      clock.advance(1_000);
    }
  });

  it("a corrupt candidate is reported and left as it is; the others are claimed", async () => {
    const clock = new ManualClock(T0);
    const schema = freshSchema("flowcorrupt");
    const pg = await open(schema, clock);
    await pg.commit({ insert: [flowJob("bad", { priority: 9, runAt: T0 }, "a"), flowJob("good", { runAt: T0 }, "a")] });
    await admin(`UPDATE "${schema}".jobs SET data = 'not json' WHERE id = 'bad'`);
    const { claimed } = await pg.claimFlow({ owner: "e", limit: 5, leaseMs: LEASE_MS, flow: { limits: {} } });
    expect(ids(claimed)).toEqual(["good"]);
    expect(pg.corruptRecords.map((e) => e.jobId)).toEqual(["bad"]);
    const [row] = await admin<{ status: string }>(`SELECT status FROM "${schema}".jobs WHERE id = 'bad'`);
    expect(row?.status).toBe("pending");
  });

  it("flow claims racing plain claims on two handles never hand out one job twice", async () => {
    const schema = freshSchema("flowrace");
    const a = await open(schema);
    const b = await open(schema);
    const now = Date.now() - 1_000;
    const jobs = Array.from({ length: 200 }, (_, i) => flowJob(`r${i}`, { runAt: now }, i % 3 === 0 ? undefined : `g${i % 7}`));
    await a.commit({ insert: jobs });
    const flow: FlowClaimOptions = { limits: {} };
    const calls: Promise<ClaimedJob[]>[] = [];
    for (let i = 0; i < 12; i++) {
      const store: FlowJobStore = i % 2 === 0 ? a : b;
      calls.push(
        i % 3 === 0
          ? store.claim({ owner: `p${i}`, limit: 15, leaseMs: 30_000 })
          : store.claimFlow({ owner: `f${i}`, limit: 15, leaseMs: 30_000, flow }).then((r) => r.claimed),
      );
    }
    const claimed = (await Promise.all(calls)).flat();
    expect(new Set(ids(claimed)).size).toBe(claimed.length);
    expect(claimed.length).toBe(12 * 15);
  });
});

describe("migration 0006_flow", () => {
  it("backfills flow_group from the records (skipping rows that are not JSON) and indexes only grouped claimable rows", async () => {
    const schema = freshSchema("flowmig");
    const store = await open(schema);
    await store.commit({ insert: [flowJob("x", {}, "tenant-1"), flowJob("y", {}), flowJob("z", {}, "tenant-2")] });
    await store.close();
    // Back to the schema before 0006: its objects and those of later ones dropped, their bookkeeping rows deleted.
    const s = `"${schema}"`;
    await admin(`ALTER TABLE ${s}.jobs DROP COLUMN flow_group, DROP COLUMN flow_limits`);
    await admin(`DROP TABLE ${s}.flow_window, ${s}.flow_holds, ${s}.flow_tags, ${s}.flow_clock, ${s}.flow_keys`);
    await admin(`DROP FUNCTION ${s}.flow_due, ${s}.flow_due_ungrouped, ${s}.flow_groups`);
    await admin(`DELETE FROM ${s}.pyrexis_migration WHERE name >= '0006'`);
    await admin(`UPDATE ${s}.jobs SET data = '{"group": broken' WHERE id = 'z'`);
    const again = await open(schema);
    const rows = await admin<{ id: string; flow_group: string | null }>(`SELECT id, flow_group FROM ${s}.jobs ORDER BY id`);
    expect(rows).toEqual([
      { id: "x", flow_group: "tenant-1" },
      { id: "y", flow_group: null },
      { id: "z", flow_group: null },
    ]);
    const [index] = await admin<{ def: string }>(
      `SELECT pg_get_indexdef(indexrelid) AS def FROM pg_index WHERE indexrelid = '${s}.jobs_flow_group'::regclass`,
    );
    expect(index?.def).toContain("flow_group IS NOT NULL");
    expect(await again.countByStatus()).toMatchObject({ pending: 3 });
  });
});

describe("a rate key's retention (flow_keys)", () => {
  const api = (perMs: number, units = 100): FlowClaimOptions => ({ limits: { api: { rate: { units, perMs } } } });
  const request = (flow: FlowClaimOptions, limit = 1): FlowClaimRequest => ({ owner: "e", limit, leaseMs: LEASE_MS, flow });

  it("is stored when a claim's window is longer than it and only then; entries older than it go, younger ones stay", async () => {
    const clock = new ManualClock(T0);
    const schema = freshSchema("flowkeep");
    const s = `"${schema}"`;
    const pg = await open(schema, clock);
    await pg.commit({
      insert: Array.from({ length: 8 }, (_, i) => flowJob(`k${i}`, { runAt: T0 }, undefined, [{ key: "api", units: 1 }])),
    });
    const kept = async (): Promise<{ keep_ms: string; xmin: string }[]> =>
      admin(`SELECT keep_ms::text, xmin::text FROM ${s}.flow_keys WHERE key = 'api'`);
    const entries = async (): Promise<number[]> =>
      (await admin<{ at: string }>(`SELECT at::text FROM ${s}.flow_window ORDER BY at`)).map((r) => Number(r.at) - T0);

    expect(await kept()).toEqual([]);
    expect((await pg.claimFlow(request(api(1_000)))).claimed).toHaveLength(1);
    const [first] = await kept();
    expect(first?.keep_ms).toBe("1000");
    clock.advance(400);
    expect((await pg.claimFlow(request(api(1_000)))).claimed).toHaveLength(1);
    expect(await kept(), "an unchanged retention is not written again").toEqual([first]);

    clock.advance(400); // at 800: a longer window raises the retention
    expect((await pg.claimFlow(request(api(5_000)))).claimed).toHaveLength(1);
    const [raised] = await kept();
    expect(raised?.keep_ms).toBe("5000");
    clock.advance(1_200); // at 2000: a shorter window neither lowers it nor drops what it keeps
    expect((await pg.claimFlow(request(api(1_000)))).claimed).toHaveLength(1);
    expect(await kept()).toEqual([raised]);
    expect(await entries()).toEqual([0, 400, 800, 2_000]);

    clock.set(T0 + 5_500); // the entries at 0 and 400 are 5 s old: gone, on the short claimant's claim too
    expect((await pg.claimFlow(request(api(1_000)))).claimed).toHaveLength(1);
    expect(await entries()).toEqual([800, 2_000, 5_500]);
    expect(await kept()).toEqual([raised]);
  });

  it("claims that define the key with different windows on two handles each count their own window over the shared entries", async () => {
    const clock = new ManualClock(T0);
    const schema = freshSchema("flowkeys2");
    const a = await open(schema, clock);
    const b = await open(schema, clock);
    await a.commit({ insert: Array.from({ length: 6 }, (_, i) => flowJob(`w${i}`, { runAt: T0 }, undefined, [{ key: "api", units: 1 }])) });
    expect((await a.claimFlow(request(api(10_000, 3), 6))).claimed).toHaveLength(3);
    clock.advance(3_000);
    // b's window (1 s) holds none of them: it admits its 2; a's (10 s) holds all 5.
    expect((await b.claimFlow(request(api(1_000, 2), 6))).claimed).toHaveLength(2);
    const fromA = await a.claimFlow(request(api(10_000, 3), 6));
    expect(fromA.claimed).toEqual([]);
    expect(fromA.retryAt, "room once a's own 3 are 10 s old").toBe(T0 + 10_000);
  });
});

describe("migration 0007_flow_keys", () => {
  it("migrates a schema at 0006 with its flow state intact; the retention starts at the first claim", async () => {
    const clock = new ManualClock(T0);
    const schema = freshSchema("flowkeysmig");
    const s = `"${schema}"`;
    const store = await open(schema, clock);
    await store.commit({
      insert: [
        ...Array.from({ length: 5 }, (_, i) => flowJob(`api${i}`, { runAt: T0 - i }, "g1", [{ key: "api", units: 1 }])),
        flowJob("gpu0", { runAt: T0 }, "g2", [{ key: "gpu", units: 1 }]),
      ],
    });
    const flow: FlowClaimOptions = { limits: { api: { rate: { units: 3, perMs: 10_000 } }, gpu: { maxConcurrent: 1 } } };
    expect((await store.claimFlow({ owner: "e", limit: 10, leaseMs: 60_000, flow })).claimed).toHaveLength(4);
    const state = async (): Promise<unknown[]> => [
      await admin(`SELECT key, at::text, units::text, job_id, version::text FROM ${s}.flow_window ORDER BY key, job_id`),
      await admin(`SELECT key, job_id, version::text FROM ${s}.flow_holds ORDER BY key, job_id`),
      await admin(`SELECT mode, grp, finish, stamp::text FROM ${s}.flow_tags ORDER BY mode, grp`),
      await admin(`SELECT mode, virtual, stamp::text FROM ${s}.flow_clock ORDER BY mode`),
    ];
    const before = await state();
    expect((before[0] as unknown[]).length).toBe(3);
    expect((before[1] as unknown[]).length).toBe(1);
    await store.close();
    // Back to the schema 0006 left: 0007's table and 0008's column dropped, their bookkeeping rows deleted.
    await admin(`DROP TABLE ${s}.flow_keys`);
    await admin(`ALTER TABLE ${s}.jobs DROP COLUMN flow_limits`);
    await admin(`DELETE FROM ${s}.pyrexis_migration WHERE name >= '0007'`);

    const again = await open(schema, clock);
    const applied = await admin<{ name: string }>(`SELECT name FROM ${s}.pyrexis_migration ORDER BY name`);
    expect(applied.map((r) => r.name)).toEqual([...KNOWN_MIGRATIONS]);
    expect(await state()).toEqual(before);
    expect(await admin(`SELECT * FROM ${s}.flow_keys`)).toEqual([]);

    // The entries written before the migration count: the long window is full, the slot held.
    clock.advance(2_000);
    const full = await again.claimFlow({ owner: "e", limit: 10, leaseMs: 60_000, flow });
    expect(full.claimed).toEqual([]);
    expect(full.retryAt).toBe(T0 + 10_000);
    expect(await admin(`SELECT key, keep_ms::text FROM ${s}.flow_keys ORDER BY key`)).toEqual([{ key: "api", keep_ms: "10000" }]);
    // A shorter window counts only its part of them, and drops none.
    const short: FlowClaimOptions = { limits: { api: { rate: { units: 2, perMs: 1_000 } }, gpu: { maxConcurrent: 1 } } };
    expect((await again.claimFlow({ owner: "e", limit: 10, leaseMs: 60_000, flow: short })).claimed).toHaveLength(2);
    expect(await admin(`SELECT count(*)::int AS n FROM ${s}.flow_window`)).toEqual([{ n: 5 }]);
  });
});

describe("migration 0008_flow_limits", () => {
  it("backfills flow_limits from the records (skipping rows that are not JSON); a claim behind a held limit reads them", async () => {
    const clock = new ManualClock(T0);
    const schema = freshSchema("flowlimits");
    const s = `"${schema}"`;
    const store = await open(schema, clock);
    const api = [{ key: "api", units: 2 }];
    await store.commit({
      insert: [
        ...Array.from({ length: 40 }, (_, i) => flowJob(`a${String(i).padStart(2, "0")}`, { runAt: T0, priority: 5 }, undefined, api)),
        flowJob("broken", { runAt: T0, priority: 4 }, undefined, api),
        flowJob("nul", { runAt: T0, priority: 4 }, undefined, api),
        flowJob("free", { runAt: T0, priority: 3 }),
      ],
    });
    await store.close();
    // Back to the schema 0007 left: the column dropped, its bookkeeping row deleted; one row not JSON.
    await admin(`ALTER TABLE ${s}.jobs DROP COLUMN flow_limits`);
    await admin(`DELETE FROM ${s}.pyrexis_migration WHERE name = '0008_flow_limits'`);
    await admin(`UPDATE ${s}.jobs SET data = '{"limits": broken' WHERE id = 'broken'`);
    // A \u0000 escape in a payload (the store keeps such payloads): the json cast refuses to
    // decode it (22P05), so the backfill leaves that row without flow_limits (it is read in full).
    await admin(`UPDATE ${s}.jobs SET data = replace(data, $1, $2) WHERE id = 'nul'`, ['"n":"nul"', '"n":"a\\u0000b"']);
    const again = await open(schema, clock);
    const rows = await admin<{ id: string; flow_limits: string | null }>(
      `SELECT id, flow_limits FROM ${s}.jobs WHERE id IN ('a00', 'broken', 'free', 'nul') ORDER BY id`,
    );
    expect(rows.map((r) => [r.id, r.flow_limits === null ? null : JSON.parse(r.flow_limits)])).toEqual([
      ["a00", api],
      ["broken", null],
      ["free", null],
      ["nul", null],
    ]);
    // One slot: a00 takes it, the other 39 are refused (most read by their limits), the corrupt
    // row is reported and passed by, and the job without limits behind them is claimed.
    const r = await again.claimFlow({ owner: "e", limit: 10, leaseMs: 60_000, flow: { limits: { api: { maxConcurrent: 1 } } } });
    expect(ids(r.claimed)).toEqual(["a00", "free"]);
    expect(r.refused).toBe(40);
    expect(r.waiting).toEqual({ api: 40 });
    expect(again.corruptRecords.map((e) => e.jobId)).toEqual(["broken"]);
  });

  it("behind a held limit, candidates that fit are read in doubling chunks: a claim of 500 replans a few times, not 16", async () => {
    const schema = freshSchema("flowchunks");
    const clock = new ManualClock(T0);
    // Counts the statements that read candidate records by id (the planner asks for them).
    const pool = new pg.Pool({ connectionString: PG_URL, max: 4 });
    let recordReads = 0;
    const connect = pool.connect.bind(pool) as () => Promise<pg.PoolClient>;
    (pool as unknown as { connect: () => Promise<pg.PoolClient> }).connect = async () => {
      const client = await connect();
      const marked = client as pg.PoolClient & { counted?: true };
      if (marked.counted === undefined) {
        marked.counted = true;
        const query = client.query.bind(client) as (...args: unknown[]) => unknown;
        (client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
          if (typeof args[0] === "string" && args[0].startsWith("SELECT 0 AS ord") && args[0].includes("= ANY($1::text[])")) recordReads++;
          return query(...args);
        };
      }
      return client;
    };
    const store = await PostgresJobStore.open({ pool }, { schema, clock, random: () => 0.5 });
    opened.push(store);
    try {
      const cap = [{ key: "cap", units: 1 }];
      const api = [{ key: "api", units: 1 }];
      // The cap's one slot is taken and 600 jobs on it come first: the claim's first reads are
      // theirs (all refused), so it holds `cap` and reads the 500 that fit behind them by their
      // limits, then their records.
      await store.commit({ insert: [flowJob("holder", { runAt: T0, priority: 9 }, undefined, cap)] });
      const flow = { limits: { cap: { maxConcurrent: 1 }, api: { maxConcurrent: 10_000 } } };
      expect(ids((await store.claimFlow({ owner: "e", limit: 1, leaseMs: 60_000, flow })).claimed)).toEqual(["holder"]);
      await store.commit({
        insert: [
          ...Array.from({ length: 600 }, (_, i) => flowJob(`b${String(i).padStart(3, "0")}`, { runAt: T0, priority: 8 }, undefined, cap)),
          ...Array.from({ length: 500 }, (_, i) => flowJob(`f${String(i).padStart(3, "0")}`, { runAt: T0, priority: 5 }, undefined, api)),
        ],
      });
      recordReads = 0;
      const r = await store.claimFlow({ owner: "e", limit: 500, leaseMs: 60_000, flow });
      expect(r.claimed).toHaveLength(500);
      expect(r.refused).toBe(600);
      // 32, 64, 128, 256, 512: at most five reads (one per replan) where fixed chunks of 32 took 16.
      expect(recordReads).toBeGreaterThan(0);
      expect(recordReads).toBeLessThanOrEqual(5);
    } finally {
      await store.close();
      opened.splice(opened.indexOf(store), 1);
      await pool.end();
    }
  });
});
