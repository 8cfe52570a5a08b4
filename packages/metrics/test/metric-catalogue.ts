// The metric catalogue of packages/metrics/README.md ("Metrics Pyrexis emits"), read as data, and
// a checker of a Prometheus exposition against it. The packages that emit metrics (the engine
// through the CLI's tests, the CLI, the pipeline) run for real and hand their exposition here, so
// an unprefixed, undocumented or wrongly documented metric fails their tests. Plain node:fs only:
// it is imported by relative path from other packages' tests.
import { readFileSync } from "node:fs";

/** One row of the README's catalogue. */
export interface CatalogueEntry {
  /** Exposed family name, e.g. `pyrexis_job_submitted_total`. */
  name: string;
  /** Name in the registry (`getCounters()` keys), e.g. `job.submitted`. */
  source: string;
  type: "counter" | "gauge" | "summary";
  /** Label names of its series (`quantile` of summaries not included). */
  labels: string[];
  unit: string;
  /** Who emits it: `engine`, `CLI`, `pipeline`, `dashboard`. */
  emittedBy: string[];
  meaning: string;
}

/** The README that documents every metric. */
export const CATALOGUE_README: URL = new URL("../README.md", import.meta.url);
const SECTION = "## Metrics Pyrexis emits";
const NAMESPACE_PREFIX = "pyrexis_";

/** Text between backticks of a table cell, or `[]` for `–`. */
function codes(cell: string): string[] {
  return [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
}

/** Parses the catalogue table of `readme` (default: the metrics README). Throws when it is missing or malformed. */
export function readCatalogue(readme: string = readFileSync(CATALOGUE_README, "utf8")): CatalogueEntry[] {
  const start = readme.indexOf(`\n${SECTION}\n`);
  if (start < 0) throw new Error(`metrics README has no "${SECTION}" section`);
  const rest = readme.slice(start + SECTION.length + 2);
  const end = rest.search(/^## /m);
  const section = end < 0 ? rest : rest.slice(0, end);
  const rows = section.split("\n").filter((l) => l.startsWith("| `"));
  return rows.map((row) => {
    const cells = row
      .slice(1, -1)
      .split(" | ")
      .map((c) => c.trim());
    if (cells.length !== 7) throw new Error(`catalogue row has ${cells.length} cells, not 7: ${row}`);
    const [name, source, type, labels, unit, emittedBy, meaning] = cells as [string, string, string, string, string, string, string];
    if (type !== "counter" && type !== "gauge" && type !== "summary") throw new Error(`catalogue row has type ${type}: ${row}`);
    const [exposed] = codes(name);
    const [registryName] = codes(source);
    if (!exposed || !registryName) throw new Error(`catalogue row without a backticked name: ${row}`);
    return {
      name: exposed,
      source: registryName,
      type,
      labels: codes(labels).sort(),
      unit,
      emittedBy: emittedBy.split(",").map((e) => e.trim()),
      meaning,
    };
  });
}

/** One exposed family as seen in a text exposition. */
export interface ExposedFamily {
  type: string;
  labels: Set<string>;
}

/** The families of a text exposition, by name, and every line whose metric is not under `pyrexis_`. */
export function readExposition(text: string): { families: Map<string, ExposedFamily>; unprefixed: string[] } {
  const families = new Map<string, ExposedFamily>();
  const unprefixed: string[] = [];
  let current: ExposedFamily | undefined;
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("# HELP ")) continue;
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) {
      if (!type[1]!.startsWith(NAMESPACE_PREFIX)) unprefixed.push(line);
      current = { type: type[2]!, labels: new Set() };
      families.set(type[1]!, current);
      continue;
    }
    if (!line.startsWith(NAMESPACE_PREFIX)) unprefixed.push(line);
    const labels = /\{(.*)\}/.exec(line)?.[1];
    for (const m of (labels ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="/g)) if (m[1] !== "quantile") current?.labels.add(m[1]!);
  }
  return { families, unprefixed };
}

/**
 * Every way `text` (what `emitter` exposed) disagrees with the catalogue: lines outside the
 * namespace, families without a row, rows of another type or other labels, rows that do not name
 * `emitter`. With `sourceNames` (the registry's series keys), also names the catalogue gets wrong.
 * `seen` collects the rows found, for {@link missingRows}.
 */
export function catalogueProblems(
  text: string,
  emitter: string,
  options: { catalogue?: readonly CatalogueEntry[]; sourceNames?: readonly string[]; seen?: Set<string> } = {},
): string[] {
  const catalogue = options.catalogue ?? readCatalogue();
  const byName = new Map(catalogue.map((e) => [e.name, e]));
  const { families, unprefixed } = readExposition(text);
  const problems = unprefixed.map((l) => `not under ${NAMESPACE_PREFIX}: ${l}`);
  for (const [name, family] of families) {
    const entry = byName.get(name);
    if (!entry) {
      problems.push(`${name} (${family.type}) is not in the README's catalogue`);
      continue;
    }
    options.seen?.add(name);
    if (entry.type !== family.type) problems.push(`${name}: the README says ${entry.type}, the exposition says ${family.type}`);
    const labels = [...family.labels].sort();
    if (labels.join(",") !== entry.labels.join(",")) {
      problems.push(`${name}: the README lists labels [${entry.labels.join(", ")}], the exposition has [${labels.join(", ")}]`);
    }
    if (!entry.emittedBy.includes(emitter)) problems.push(`${name}: the README does not name ${emitter} among its emitters`);
  }
  for (const key of options.sourceNames ?? []) {
    const source = key.split("{")[0]!;
    const entries = catalogue.filter((e) => e.source === source);
    if (entries.length === 0) problems.push(`registry name ${source} is not in the README's catalogue`);
  }
  return problems;
}

/** Rows naming `emitter` that were not in any exposition checked into `seen`. */
export function missingRows(emitter: string, seen: ReadonlySet<string>, catalogue: readonly CatalogueEntry[] = readCatalogue()): string[] {
  return catalogue.filter((e) => e.emittedBy.includes(emitter) && !seen.has(e.name)).map((e) => e.name);
}
