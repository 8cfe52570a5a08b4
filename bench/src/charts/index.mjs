// Charts from a bench's JSON, by the JSON's `kind`: each bench that writes JSON names its kind
// and gets one entry here mapping its JSON to charts, all drawn by the same renderer. The peer
// bench is "peers"; the scale bench (backlogs of 10k / 100k / 1M jobs) is "scale", with its
// cost-per-job-against-backlog chart.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { peerCharts } from "./peers.mjs";
import { renderSvg } from "./render.mjs";
import { scaleCharts } from "./scale.mjs";

/** @typedef {import("./peers.mjs").Chart} Chart */
/** @typedef {import("./peers.mjs").ContenderInfo} ContenderInfo */

/**
 * The charts of each kind of bench JSON. `labels` names the contenders of a JSON older than
 * the charts, which has only their ids.
 * @type {Record<string, (json: unknown, labels: ContenderInfo[]) => Chart[]>}
 */
const BY_KIND = {
  // Its kind says it is what peers.mjs writes.
  peers: (json, labels) => peerCharts(/** @type {import("./peers.mjs").PeersJson} */ (json), labels),
  scale: (json) => scaleCharts(/** @type {import("./scale.mjs").ScaleJson} */ (json)),
};

/**
 * The kind of a bench JSON: its `kind`, or "peers" for a peer bench JSON saved before the
 * field existed (it has `measurements`).
 * @param {{ kind?: unknown, measurements?: unknown }} json
 */
export function kindOf(json) {
  if (typeof json.kind === "string") return json.kind;
  if (Array.isArray(json.measurements)) return "peers";
  return undefined;
}

/**
 * The charts of a bench JSON; a TypeError naming the kinds there are charts for otherwise.
 * @param {{ kind?: unknown, measurements?: unknown }} json
 * @param {ContenderInfo[]} [labels]
 * @returns {Chart[]}
 */
export function chartsFor(json, labels = []) {
  const kind = kindOf(json);
  const make = kind === undefined ? undefined : BY_KIND[kind];
  if (!make) throw new TypeError(`no charts for a JSON of kind ${String(kind)}; known kinds: ${Object.keys(BY_KIND).join(", ")}`);
  return make(json, labels);
}

/**
 * Renders the charts of a bench JSON and writes each as `<dir>/<prefix>-<name>.svg`.
 * @param {{ kind?: unknown, measurements?: unknown }} json
 * @param {{ dir: string, prefix: string, labels?: ContenderInfo[] }} options
 * @returns {Promise<string[]>} the paths written
 */
export async function writeCharts(json, { dir, prefix, labels = [] }) {
  mkdirSync(dir, { recursive: true });
  const written = [];
  for (const chart of chartsFor(json, labels)) {
    const path = join(dir, `${prefix}-${chart.name}.svg`);
    writeFileSync(path, `${await renderSvg(chart.spec)}\n`);
    written.push(path);
  }
  return written;
}
