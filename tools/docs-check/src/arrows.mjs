// The "Packages and their arrows" block of docs/ARCHITECTURE.md is the dependency graph people
// read first, so it must be the real one: each line `name → a, b; optional peer: c` is compared
// with that package's package.json (dependencies and peerDependencies on @pyrexis/* packages).
// Published packages are named by package name, private ones by their folder. Tooling is left
// out: tools/*, and private packages under packages/ (the test helpers).
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";

const HEADING = "## Packages and their arrows";
const SCOPE = "@pyrexis/";

/**
 * What one package imports of ours, as the block says it.
 * @typedef {{ deps: string[], peers: string[] }} Arrows
 */

/** @typedef {{ name: string, private?: boolean, dependencies?: Record<string, string>, peerDependencies?: Record<string, string> }} PackageJson */

/** @param {string} path @returns {unknown} */
const readJson = (path) => JSON.parse(readFileSync(path, "utf8"));

/**
 * The arrows of every product package, from their package.json files.
 * @param {string} root
 * @param {string[]} packageJsons paths relative to `root` (the root's own and tooling are skipped)
 * @returns {Map<string, Arrows>} by the label the block uses
 */
export function actualArrows(root, packageJsons) {
  /** @type {Map<string, Arrows>} */
  const out = new Map();
  for (const path of packageJsons) {
    const dir = dirname(path);
    if (dir === "." || dir.startsWith("tools/")) continue;
    const pkg = /** @type {PackageJson} */ (readJson(join(root, path)));
    if (pkg.private && dir.startsWith("packages/")) continue;
    const ours = (/** @type {Record<string, string> | undefined} */ deps) =>
      Object.keys(deps ?? {})
        .filter((d) => d.startsWith(SCOPE))
        .map((d) => d.slice(SCOPE.length))
        .sort();
    out.set(pkg.private ? dir : pkg.name, { deps: ours(pkg.dependencies), peers: ours(pkg.peerDependencies) });
  }
  return out;
}

/**
 * The arrows the block in `architecture` (the text of docs/ARCHITECTURE.md) states, by label.
 * @param {string} architecture
 * @returns {{ arrows: Map<string, Arrows>, problems: string[] }}
 */
export function statedArrows(architecture) {
  /** @type {Map<string, Arrows>} */
  const arrows = new Map();
  const start = architecture.indexOf(`\n${HEADING}\n`);
  const block = start < 0 ? undefined : /```\n([\s\S]*?)```/.exec(architecture.slice(start))?.[1];
  if (block === undefined) return { arrows, problems: [`docs/ARCHITECTURE.md: no code block under "${HEADING}"`] };
  const problems = [];
  const list = (/** @type {string | undefined} */ s) =>
    (s ?? "")
      .split(",")
      .map((x) => x.trim())
      .filter(Boolean)
      .sort();
  for (const line of block.split("\n").filter((l) => l.trim() !== "")) {
    const m = /^(\S+)\s+(?:\(nothing of ours\)|→ ([^;]+?)(?:; optional peer: (.+))?)\s*$/.exec(line);
    if (!m) {
      problems.push(`docs/ARCHITECTURE.md: cannot read the arrows line "${line}"`);
      continue;
    }
    arrows.set(/** @type {string} */ (m[1]), { deps: list(m[2]), peers: list(m[3]) });
  }
  return { arrows, problems };
}

/** The block's line for `label`, as it should read. @param {string} label @param {Arrows} a */
function lineOf(label, a) {
  if (a.deps.length === 0 && a.peers.length === 0) return `${label} (nothing of ours)`;
  return `${label} → ${a.deps.join(", ")}${a.peers.length ? `; optional peer: ${a.peers.join(", ")}` : ""}`;
}

/**
 * Every difference between the arrows block and the package.json files.
 * @param {string} root
 * @param {string[]} packageJsons
 * @returns {string[]}
 */
export function checkArrows(root, packageJsons) {
  const { arrows: stated, problems } = statedArrows(readFileSync(join(root, "docs/ARCHITECTURE.md"), "utf8"));
  const actual = actualArrows(root, packageJsons);
  for (const [label, a] of actual) {
    const s = stated.get(label);
    if (!s) problems.push(`docs/ARCHITECTURE.md: the arrows block has no line for ${label}; it would read: ${lineOf(label, a)}`);
    else if (s.deps.join() !== a.deps.join() || s.peers.join() !== a.peers.join()) {
      problems.push(`docs/ARCHITECTURE.md: the arrows of ${label} differ from its package.json; it should read: ${lineOf(label, a)}`);
    }
  }
  for (const label of stated.keys()) {
    if (!actual.has(label)) problems.push(`docs/ARCHITECTURE.md: the arrows block names ${label}, which is no package of the workspace`);
  }
  return problems;
}
