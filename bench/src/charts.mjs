#!/usr/bin/env node
// pnpm --filter @pyrexis/bench charts -- --json bench-results/peers.json [--json …] [--out bench-results] [--prefix peers]
//
// Renders the charts of saved bench JSON as SVG, so a run's pictures can be redrawn (or drawn
// for a run saved before the bench drew them) without running it again. Writes
// <out>/<prefix>-<chart>.svg per JSON; the prefix defaults to the JSON's file name.
import { basename, dirname, join, relative, resolve } from "node:path";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { kindOf, writeCharts } from "./charts/index.mjs";

const benchDir = join(dirname(fileURLToPath(import.meta.url)), "..");
const { values: args } = parseArgs({
  // pnpm 10 passes the "--" of `pnpm --filter @pyrexis/bench charts -- --json …` on to the script.
  args: process.argv[2] === "--" ? process.argv.slice(3) : process.argv.slice(2),
  options: {
    json: { type: "string", multiple: true },
    out: { type: "string" },
    prefix: { type: "string" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (args.help || !args.json?.length) {
  console.log("usage: node src/charts.mjs --json bench-results/peers.json [--json other.json] [--out bench-results] [--prefix peers]");
  process.exit(args.help ? 0 : 2);
}
if (args.prefix !== undefined && args.json.length > 1) {
  console.error("--prefix names the charts of one JSON; with several, each JSON's file name is its prefix");
  process.exit(2);
}

// Paths are taken from bench/, as the package scripts run there (pnpm --filter runs in the package directory).
const outDir = resolve(benchDir, args.out ?? "bench-results");
for (const file of args.json) {
  const path = resolve(benchDir, file);
  const json = /** @type {{ kind?: unknown, measurements?: unknown, contenders?: unknown }} */ (JSON.parse(readFileSync(path, "utf8")));
  // A peers JSON from before the charts has contender ids only: their labels come from the contender list.
  const labels = kindOf(json) === "peers" && json.contenders === undefined ? (await import("./contenders/index.mjs")).variants : [];
  const written = await writeCharts(json, { dir: outDir, prefix: args.prefix ?? basename(path, ".json"), labels });
  for (const w of written) console.log(`wrote ${relative(process.cwd(), w)}`);
}
