// Where an SQLite drain's writes go: N no-op jobs submitted in batches of 1,000 and drained by one
// engine (concurrency 64), with the file's automatic checkpoints off, then every frame of the WAL
// is attributed to the b-tree that owns its page (SQLite's `dbstat` table). WAL frames are what a
// commit costs (each is a page written, and later copied again by a checkpoint), and unlike CPU
// time they do not move with the machine's load: the same code gives the same counts.
//
//   node bench/wal-frames.mjs [--n 5000] [--only plain,limit,group,flow]
//
// Rows: `plain` (no flow control), `limit` (every job uses a limit with a rate and a concurrency
// cap that never bind), `group` (every job names one of four groups), `flow` (both, as the flow
// rows of bench/throughput.mjs). Prints frames per job, in all and per b-tree; writes
// bench-results/wal-frames.json.
import { createRequire } from "node:module";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Engine } from "@pyrexis/engine";
import { SqliteJobStore } from "@pyrexis/storage-sqlite";
import { AsyncExecutor, ExecutorRouter } from "@pyrexis/executors";

/** @type {Record<string, string | undefined>} */
const args = Object.fromEntries(
  process.argv
    .slice(2)
    .reduce(
      (acc, a, i, all) => (a.startsWith("--") ? [...acc, [a.slice(2), all[i + 1]]] : acc),
      /** @type {[string, string | undefined][]} */ ([]),
    ),
);
const N = Number(args.n ?? 5000);
const KINDS = (args.only ?? "plain,limit,group,flow").split(",");
for (const k of KINDS) if (!["plain", "limit", "group", "flow"].includes(k)) throw new TypeError(`--only: unknown row ${k}`);
if (!Number.isInteger(N) || N < 1000) throw new TypeError(`--n: an integer >= 1000, got ${args.n}`);

// better-sqlite3 as the store resolves it (the engine does not depend on it directly).
const Database = createRequire(createRequire(import.meta.url).resolve("@pyrexis/storage-sqlite"))("better-sqlite3");

/**
 * One drain; returns the WAL frames per b-tree.
 * @param {string} kind
 * @returns {Promise<{ kind: string, frames: number, byTree: Record<string, number> }>}
 */
async function drain(kind) {
  const dir = mkdtempSync(join(tmpdir(), "pyrexis-wal-frames-"));
  const path = join(dir, "bench.db");
  try {
    const store = await SqliteJobStore.open({ path }, { walAutocheckpointPages: 0 });
    const noop = () => null;
    const engine = new Engine({
      store,
      executors: new ExecutorRouter({ async: new AsyncExecutor({ handlers: { noop } }) }),
      handlerNames: ["noop"],
      concurrency: { async: 64 },
      ...(kind === "plain"
        ? {}
        : { limits: { api: { rate: { units: 1_000_000_000, perMs: 60_000 }, maxConcurrent: 1_000_000 } }, groupWeights: { g0: 2 } }),
    });
    await engine.start();
    // What opening and migrating wrote is checkpointed away: the WAL then holds the drain only.
    const setUp = new Database(path);
    setUp.pragma("wal_checkpoint(TRUNCATE)");
    setUp.close();
    let done = 0;
    /** @type {() => void} */
    let drained = () => {};
    const finished = new Promise((resolve) => (drained = /** @type {() => void} */ (resolve)));
    engine.on("job:completed", () => {
      if (++done === N) drained();
    });
    const loop = engine.runLoop();
    for (let start = 0; start < N; start += 1000) {
      const specs = [];
      for (let i = start; i < Math.min(N, start + 1000); i++) {
        /** @type {{ handler: string, payload: number, limits?: { key: string }[], group?: string }} */
        const spec = { handler: "noop", payload: i };
        if (kind === "limit" || kind === "flow") spec.limits = [{ key: "api" }];
        if (kind === "group" || kind === "flow") spec.group = `g${i % 4}`;
        specs.push(spec);
      }
      await engine.submitJobs(specs);
    }
    await finished;
    // WAL format: a 32-byte header, then frames of a 24-byte header (page number first) and a page.
    const wal = readFileSync(`${path}-wal`);
    const pageSize = wal.readUInt32BE(8);
    const probe = new Database(path, { readonly: true });
    /** @type {Map<number, string>} */
    const owner = new Map(
      /** @type {{ pageno: number, name: string }[]} */ (probe.prepare("SELECT pageno, name FROM dbstat").all()).map((r) => [
        r.pageno,
        r.name,
      ]),
    );
    probe.close();
    /** @type {Record<string, number>} */
    const byTree = {};
    let frames = 0;
    for (let at = 32; at + 24 + pageSize <= wal.length; at += 24 + pageSize) {
      const tree = owner.get(wal.readUInt32BE(at)) ?? "(free or other)";
      byTree[tree] = (byTree[tree] ?? 0) + 1;
      frames++;
    }
    await engine.shutdown();
    await loop;
    return { kind, frames, byTree };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** @type {{ kind: string, frames: number, byTree: Record<string, number> }[]} */
const results = [];
for (const kind of KINDS) results.push(await drain(kind));
const trees = [...new Set(results.flatMap((r) => Object.keys(r.byTree)))].sort(
  (a, b) => Math.max(...results.map((r) => r.byTree[b] ?? 0)) - Math.max(...results.map((r) => r.byTree[a] ?? 0)),
);
const perJob = (/** @type {number} */ x) => (x / N).toFixed(3);
const lines = [
  `N = ${N} no-op jobs, one engine, concurrency 64, submitted in batches of 1,000; WAL frames per job (automatic checkpoints off); Node ${process.version}`,
  "",
  `| b-tree | ${KINDS.join(" | ")} |`,
  `| --- | ${KINDS.map(() => "---:").join(" | ")} |`,
  `| **all** | ${results.map((r) => `**${perJob(r.frames)}**`).join(" | ")} |`,
  ...trees.map((t) => `| ${t} | ${results.map((r) => perJob(r.byTree[t] ?? 0)).join(" | ")} |`),
];
console.log(lines.join("\n"));
mkdirSync("bench-results", { recursive: true });
writeFileSync("bench-results/wal-frames.json", JSON.stringify({ n: N, node: process.version, results }, null, 2));
