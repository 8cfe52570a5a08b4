// Benchmark logs live in docs/PERFORMANCE.md; a README keeps its current table and a link. So
// the benchmark section of a package README (or bench/README's "Latest results") links to
// docs/PERFORMANCE.md, holds at most one table, and that table is on docs/PERFORMANCE.md too.
import { readFileSync } from "node:fs";
import { join } from "node:path";

const SECTION = /^## (Benchmark|Latest results)\s*$/m;

/**
 * The benchmark section of a README's text, or undefined when it has none.
 * @param {string} text
 */
export function benchmarkSection(text) {
  const m = SECTION.exec(text);
  if (!m) return undefined;
  const rest = text.slice(m.index + m[0].length);
  const end = rest.search(/^## /m);
  return end < 0 ? rest : rest.slice(0, end);
}

/** The markdown tables of `text`, each as its lines joined. @param {string} text */
export function tablesOf(text) {
  return [...text.matchAll(/(?:^\|.*\|[ \t]*(?:\n|$))+/gm)].map((m) => m[0].trimEnd());
}

/**
 * Every way the READMEs' benchmark sections break the rule above.
 * @param {string} root
 * @param {string[]} readmes paths relative to `root` of the READMEs to check
 * @returns {string[]}
 */
export function checkBenchmarks(root, readmes) {
  const performance = readFileSync(join(root, "docs/PERFORMANCE.md"), "utf8");
  const problems = [];
  for (const path of readmes) {
    const section = benchmarkSection(readFileSync(join(root, path), "utf8"));
    if (section === undefined) continue;
    if (!/\]\([^)]*docs\/PERFORMANCE\.md[^)]*\)/.test(section))
      problems.push(`${path}: the benchmark section does not link to docs/PERFORMANCE.md`);
    const tables = tablesOf(section);
    if (tables.length > 1)
      problems.push(
        `${path}: the benchmark section has ${tables.length} tables; keep the current one, move the rest to docs/PERFORMANCE.md`,
      );
    for (const table of tables) {
      if (!performance.includes(table)) {
        problems.push(`${path}: its benchmark table (first row: ${table.split("\n")[2] ?? table}) is not in docs/PERFORMANCE.md`);
      }
    }
  }
  return problems;
}
