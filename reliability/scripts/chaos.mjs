#!/usr/bin/env node
// The long, on-demand reliability run:
//   pnpm test:chaos [--rounds N] [--seed S] [--jobs N] [-- <vitest args>]
// Sets PYREXIS_CHAOS=1 (bigger fuzz runs, 100,000-job load), PYREXIS_CHAOS_ROUNDS (kill rounds,
// default 50), PYREXIS_SEED (every scenario's seed; default: each scenario's fixed seed) and
// PYREXIS_CHAOS_REPORT (where each scenario writes its figures), runs vitest, then prints the
// figures as one markdown table and writes them to chaos-results/summary.json.
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
/** @type {NodeJS.ProcessEnv} */
const env = { ...process.env, PYREXIS_CHAOS: "1", PYREXIS_CHAOS_ROUNDS: "50" };
/** @type {string[]} */
const passthrough = [];
for (let i = 0; i < args.length; i++) {
  const a = /** @type {string} */ (args[i]);
  const value = () => {
    const v = args[++i];
    if (v === undefined || !/^\d+$/.test(v)) {
      console.error(`chaos: ${a} needs a non-negative integer`);
      process.exit(2);
    }
    return v;
  };
  if (a === "--rounds") env.PYREXIS_CHAOS_ROUNDS = value();
  else if (a === "--seed") env.PYREXIS_SEED = value();
  else if (a === "--jobs") env.PYREXIS_LOAD_JOBS = value();
  else if (a === "--") {
    passthrough.push(...args.slice(i + 1));
    break;
  } else passthrough.push(a);
}
const report = join(root, "chaos-results");
rmSync(report, { recursive: true, force: true });
mkdirSync(report, { recursive: true });
env.PYREXIS_CHAOS_REPORT = report;
console.log(`chaos: rounds=${env.PYREXIS_CHAOS_ROUNDS} seed=${env.PYREXIS_SEED ?? "(per-scenario default)"}`);
const started = Date.now();
const vitest = join(dirname(createRequire(import.meta.url).resolve("vitest/package.json")), "vitest.mjs");
const r = spawnSync(process.execPath, [vitest, "run", "--testTimeout=1800000", ...passthrough], {
  cwd: root,
  env,
  stdio: "inherit",
});
/** Each scenario's figures, as it wrote them. @type {Record<string, Record<string, unknown>>} */
const figures = {};
for (const f of readdirSync(report)
  .filter((f) => f.endsWith(".json"))
  .sort())
  figures[f.replace(/\.json$/, "")] = /** @type {Record<string, unknown>} */ (JSON.parse(readFileSync(join(report, f), "utf8")));
const summary = {
  rounds: Number(env.PYREXIS_CHAOS_ROUNDS),
  seed: env.PYREXIS_SEED ?? null,
  exitCode: r.status,
  minutes: Math.round((Date.now() - started) / 6000) / 10,
  node: process.version,
  figures,
};
writeFileSync(join(report, "summary.json"), JSON.stringify(summary, null, 2));
console.log("\n| scenario | figures |\n| --- | --- |");
for (const [name, f] of Object.entries(figures)) {
  const { at: _at, ...rest } = f;
  console.log(
    `| ${name} | ${Object.entries(rest)
      .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
      .join(", ")} |`,
  );
}
process.exit(r.status ?? 1);
