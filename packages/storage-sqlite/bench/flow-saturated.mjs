// Flow claims when a limit is full and the backlog is deep: the steady state of a rate-limited
// model API. BACKLOG pending jobs all use the limit `gpu` (maxConcurrent CAP); the cap is full;
// each round completes one running job (its slot comes back) and makes one flow claim, which
// admits one job and then looks at refused jobs until the claim's scan bound (2,000), all inside
// the write lock that every other engine on the file waits for. Beside it, in the same run, the
// same claim when nothing is refused (a cap that never binds): the ratio is what saturation costs
// per claim. Prints a table and writes bench-results/flow-saturated.json.
//   node bench/flow-saturated.mjs [--backlog 20000] [--rounds 200] [--cap 4]
// Needs `pnpm build` first.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { createJob, createResult, parseJobSpec, transition } from "@pyrexis/models";
import { SqliteJobStore } from "../dist/index.js";

const args = Object.fromEntries(
  process.argv
    .slice(2)
    .reduce(
      (/** @type {[string, string][]} */ acc, a, i, all) => (a.startsWith("--") ? [...acc, [a.slice(2), String(all[i + 1])]] : acc),
      [],
    ),
);
const BACKLOG = Number(args.backlog ?? 20_000);
const ROUNDS = Number(args.rounds ?? 200);
const CAP = Number(args.cap ?? 4);
const LEASE_MS = 60_000;

/** @typedef {import("@pyrexis/storage").ClaimedJob} ClaimedJob */

/**
 * One scenario on a new file: BACKLOG jobs on `gpu`, CAP running, then ROUNDS of complete-one, claim.
 * @param {string} path
 * @param {number} maxConcurrent the claimant's cap: CAP (saturated) or more than the backlog (never binds)
 * @param {number} want the claim's limit: 8 with the cap full (an engine asks for more than the one free slot), 1 when it never
 *   binds (the same one job claimed)
 */
async function scenario(path, maxConcurrent, want) {
  let t = 1_700_000_000_000;
  const clock = { now: () => t };
  const store = await SqliteJobStore.open({ path }, { clock });
  try {
    for (let start = 0; start < BACKLOG; start += 1000) {
      const jobs = [];
      for (let i = start; i < Math.min(BACKLOG, start + 1000); i++)
        jobs.push(createJob(parseJobSpec({ handler: "call", payload: { prompt: `p${i}`.padEnd(200, "x") }, limits: [{ key: "gpu" }] }), t));
      await store.commit({ insert: jobs });
    }
    t += 1;
    const request = (/** @type {number} */ limit) => ({
      owner: "bench",
      modes: ["async"],
      limit,
      leaseMs: LEASE_MS,
      flow: { limits: { gpu: { maxConcurrent } } },
    });
    /** @type {ClaimedJob[]} */
    const running = (await store.claimFlow(request(CAP))).claimed;
    /** @type {number[]} */
    const ms = [];
    let refused = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const done = /** @type {ClaimedJob} */ (running.shift());
      t += 1;
      const ended = transition(done.job, "completed", t);
      await store.commit({
        update: [{ job: ended, expectedVersion: done.job.version }],
        results: [createResult({ jobId: ended.id, status: "completed", output: null, startedAt: t, endedAt: t, attempts: 1 })],
      });
      const started = performance.now();
      const answer = await store.claimFlow(request(want));
      ms.push(performance.now() - started);
      refused += answer.refused;
      running.push(...answer.claimed);
    }
    ms.sort((a, b) => a - b);
    const at = (/** @type {number} */ q) => /** @type {number} */ (ms[Math.min(ms.length - 1, Math.floor(q * ms.length))]);
    return { p50Ms: at(0.5), p95Ms: at(0.95), maxMs: /** @type {number} */ (ms.at(-1)), refusedPerClaim: refused / ROUNDS };
  } finally {
    await store.close();
  }
}

const dir = mkdtempSync(join(tmpdir(), "pyrexis-flow-saturated-"));
/** @type {{ name: string, p50Ms: number, p95Ms: number, maxMs: number, refusedPerClaim: number }[]} */
const rows = [];
try {
  rows.push({ name: "cap never binds", ...(await scenario(join(dir, "free.db"), BACKLOG * 10, 1)) });
  rows.push({ name: `cap full (${CAP})`, ...(await scenario(join(dir, "full.db"), CAP, 8)) });
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const machine = `${cpus().length} cores (${cpus()[0]?.model ?? "unknown"}), Node ${process.version}`;
console.log(
  `\nFlow claims with a deep backlog: ${BACKLOG.toLocaleString("en")} pending jobs on one limit, ${ROUNDS} rounds of complete-one → claimFlow (8 with the cap full, 1 when it never binds: one job claimed either way); ${machine}\n`,
);
console.log("| limit | refused per claim | claim p50 (ms) | p95 (ms) | max (ms) |");
console.log("|---|---:|---:|---:|---:|");
for (const r of rows) {
  console.log(`| ${r.name} | ${r.refusedPerClaim.toFixed(0)} | ${r.p50Ms.toFixed(2)} | ${r.p95Ms.toFixed(2)} | ${r.maxMs.toFixed(2)} |`);
}
const [free, full] = /** @type {[typeof rows[0], typeof rows[0]]} */ (rows);
const ratio = full.p50Ms / free.p50Ms;
console.log(`\nA claim with the cap full costs ${ratio.toFixed(1)}× one whose cap never binds (p50, same run).`);
mkdirSync(new URL("../bench-results/", import.meta.url), { recursive: true });
writeFileSync(
  new URL("../bench-results/flow-saturated.json", import.meta.url),
  JSON.stringify({ machine, date: new Date().toISOString(), backlog: BACKLOG, rounds: ROUNDS, cap: CAP, ratio, rows }, null, 2),
);
