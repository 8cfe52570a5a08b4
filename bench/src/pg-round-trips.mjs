#!/usr/bin/env node
// Where the time of Pyrexis on PostgreSQL goes: counts the statements (each one round trip) an
// engine on the PostgreSQL store sends while it submits and drains N no-op jobs, by kind, per job,
// per claim and per completion commit. Every query of every `pg` client in this process is counted
// (node-postgres's Client.prototype.query is wrapped before the store opens), the listener's
// included. Prints a table; not a test, nothing asserts.
//   node src/pg-round-trips.mjs [--n 20000] [--concurrency 50] [--prefetch 0] [--singles 200]
// Uses its own schema (pyrexis_rt_<hex>) on DATABASE_URL and drops it.
import { parseArgs } from "node:util";
import pg from "pg";
import { createEngine } from "@pyrexis/engine";
import { dropPgSchema, pgRunSchema } from "./contenders/common.mjs";
import { makePayload } from "./work.mjs";

const { values: args } = parseArgs({
  options: {
    n: { type: "string", default: "20000" },
    concurrency: { type: "string", default: "50" },
    singles: { type: "string", default: "200" },
    prefetch: { type: "string", default: "0" },
  },
});
const n = Number(args.n);
const concurrency = Number(args.concurrency);
const singles = Number(args.singles);
const prefetch = Number(args.prefetch);
for (const [name, v] of Object.entries({ n, concurrency, singles, prefetch })) {
  if (!Number.isInteger(v) || v < (name === "prefetch" ? 0 : 1)) {
    console.error(`--${name} must be a ${name === "prefetch" ? "non-negative" : "positive"} integer`);
    process.exit(2);
  }
}

/**
 * The kind of one statement, from its text (the store's statements are fixed strings).
 * @param {string} text
 */
function kindOf(text) {
  const t = text.trim();
  if (/^begin/i.test(t)) return "BEGIN";
  if (/^commit/i.test(t)) return "COMMIT";
  if (/^rollback/i.test(t)) return "ROLLBACK";
  if (/^(LISTEN|UNLISTEN)/i.test(t)) return "LISTEN";
  if (/^SELECT 1\b/i.test(t)) return "heartbeat (SELECT 1)";
  if (t.includes("FOR UPDATE OF j SKIP LOCKED") && t.includes("lease_owner = $5")) return "claim";
  if (t.includes("WITH ORDINALITY AS r(id, version, ord)")) return "renew leases";
  if (t.includes("lease_expires_at NULLS FIRST")) return "expired leases (reclaim)";
  if (t.startsWith("SELECT DISTINCT lease_owner")) return "lease owners";
  if (t.startsWith("WITH ins AS (INSERT")) return "insert jobs + notify";
  if (t.startsWith("WITH upd AS (UPDATE")) return "update jobs + insert results + notify";
  if (/^INSERT INTO \S+\.jobs/.test(t)) return "insert jobs";
  if (/^UPDATE \S+\.jobs AS j SET status = u\.status, mode/.test(t)) return "update jobs (fenced)";
  if (/^UPDATE \S+\.jobs AS j SET status = u\.status, attempts/.test(t)) return "reclaim jobs";
  if (/^INSERT INTO \S+\.results/.test(t)) return "insert results";
  if (t.startsWith("SELECT pg_notify")) return "notify";
  if (t.includes(".changes") && t.startsWith("SELECT last_value")) return "change counter";
  return `other: ${t.slice(0, 50).replaceAll(/\s+/g, " ")}`;
}

/** @typedef {{ count: number, rows: number, ms: number }} Tally statements, rows they returned or changed, and ms from send to answer */
/** @type {Map<string, Tally>} statements by kind since the last reset */
let counts = new Map();
const proto = /** @type {{ query: (...args: unknown[]) => unknown }} */ (/** @type {unknown} */ (pg.Client.prototype));
const query = proto.query;
proto.query = function countedQuery(/** @type {unknown[]} */ ...callArgs) {
  const first = callArgs[0];
  const config = /** @type {{ text?: unknown } | undefined} */ (first);
  const text = typeof first === "string" ? first : typeof config?.text === "string" ? config.text : "";
  const kind = kindOf(text);
  const entry = counts.get(kind) ?? { count: 0, rows: 0, ms: 0 };
  counts.set(kind, entry);
  entry.count++;
  const sent = performance.now();
  const result = query.apply(this, callArgs);
  // LISTEN's connection stays open: only statements that answer are timed.
  if (result instanceof Promise) {
    result.then(
      (r) => {
        entry.rows += /** @type {{ rowCount?: number | null }} */ (r)?.rowCount ?? 0;
        entry.ms += performance.now() - sent;
      },
      () => {},
    );
  }
  return result;
};
/** The counts since the last call, and a fresh map for the next phase. */
const take = () => {
  const out = counts;
  counts = new Map();
  return out;
};

const { schema, storeUrl } = pgRunSchema("pyrexis_rt");
const handlers = { noop: () => null };
const engine = await createEngine({ store: storeUrl, handlers, concurrency: { async: concurrency }, prefetch });
try {
  take(); // opening: migrations, LISTEN
  const jobs = Array.from({ length: n }, (_, i) => ({ handler: "noop", payload: makePayload(i) }));
  await engine.submitJobs(jobs);
  const submit = take();

  let completed = 0;
  /** @type {() => void} */
  let allDone = () => {};
  const done = new Promise((/** @type {(v?: undefined) => void} */ r) => (allDone = r));
  engine.on("job:completed", () => {
    if (++completed === n + singles) allDone();
  });
  const t0 = performance.now();
  const loop = engine.runLoop();
  const drained = new Promise((/** @type {(v?: undefined) => void} */ r) => {
    const check = () => (completed >= n ? r() : setTimeout(check, 5));
    check();
  });
  await drained;
  await engine.flush();
  const drainS = (performance.now() - t0) / 1000;
  const drain = take();

  // One job per submitJobs call, each waited for, as the latency scenario submits.
  for (let i = 0; i < singles; i++) await engine.submitJobs([{ handler: "noop", payload: makePayload(n + i) }]);
  await done;
  await engine.flush();
  const trickle = take();
  await engine.shutdown({ graceMs: 1000 });
  await loop;

  /** @param {string} title @param {Map<string, Tally>} m @param {number} per */
  const print = (title, m, per) => {
    const total = [...m.values()].reduce((a, e) => a + e.count, 0);
    console.log(`\n${title}: ${total} statements (round trips), ${(total / per).toFixed(3)} per job`);
    console.table(
      [...m.entries()]
        .sort((a, b) => b[1].count - a[1].count)
        .map(([kind, e]) => ({
          kind,
          statements: e.count,
          "per job": Number((e.count / per).toFixed(4)),
          "rows per statement": e.count ? Number((e.rows / e.count).toFixed(1)) : 0,
          "ms per statement": e.count ? Number((e.ms / e.count).toFixed(2)) : 0,
          "ms total": Math.round(e.ms),
        })),
    );
  };
  console.log(
    `Pyrexis engine on PostgreSQL (createEngine, default pool), ${n} no-op jobs, concurrency ${concurrency}, prefetch ${prefetch}`,
  );
  print(`submit: one submitJobs of ${n}`, submit, n);
  print(`drain: ${n} jobs in ${drainS.toFixed(2)} s (${Math.round(n / drainS)} jobs/s, counting on)`, drain, n);
  print(`trickle: ${singles} jobs, one submitJobs each, run as they come`, trickle, singles);
} finally {
  await engine.shutdown({ graceMs: 0 }).catch(() => {});
  await dropPgSchema(schema);
}
