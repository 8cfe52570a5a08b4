// The repository's docs pass every check, and each check reports what it exists to catch (on
// small repositories written to a temporary directory).
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { tempDir } from "@pyrexis/test-utils";
import { describe, expect, it } from "vitest";
import { checkArrows, checkBenchmarks, checkDocs, checkLinks, repoFiles } from "../src/index.mjs";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));

/** A temporary git work tree holding `files` (path → content), removed when the test ends. */
function repo(files: Record<string, string>): string {
  const root = tempDir("pyrexis-docs-check-").dir;
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  execFileSync("git", ["init", "-q"], { cwd: root });
  return root;
}

const ARCHITECTURE = (block: string): string => `# Architecture\n\n## Packages and their arrows\n\n\`\`\`\n${block}\n\`\`\`\n\n## Next\n`;
const pkg = (name: string, extra: object = {}): string => JSON.stringify({ name, version: "0.0.0", ...extra });

describe("the repository's docs", () => {
  it("have no broken relative link, a true arrows block and benchmark sections that follow the rule", async () => {
    expect(await checkDocs(repoRoot)).toEqual([]);
  });

  it("are found through git: every README and docs page, nothing under node_modules", () => {
    const files = repoFiles(repoRoot, ["*.md"]);
    expect(files).toContain("README.md");
    expect(files).toContain("docs/PERFORMANCE.md");
    expect(files).toContain("packages/metrics/README.md");
    expect(files.some((f) => f.includes("node_modules/"))).toBe(false);
  });
});

describe("links", () => {
  it("reports a missing file and a missing heading, in this file and in another, with their place", async () => {
    const root = repo({
      "README.md": "# Top\n\n## Usage\n\n[ok](#usage) [gone](#nothing) [file](docs/a.md#alpha) [dir](docs)\n",
      "docs/a.md": "# Alpha\n\n[up](../README.md#usage) [missing](../nope.md) [bad](../README.md#usage-2)\n",
    });
    const problems = await checkLinks(root, repoFiles(root, ["*.md"]));
    expect(problems).toHaveLength(3);
    expect(problems).toContainEqual(expect.stringMatching(/^README\.md:5:\d+: .*#nothing/));
    expect(problems).toContainEqual(expect.stringMatching(/^docs\/a\.md:3:\d+: .*`\.\.\/nope\.md`/));
    expect(problems).toContainEqual(expect.stringMatching(/^docs\/a\.md:3:\d+: .*#usage-2/));
  });

  it("passes links to files, folders and headings that exist", async () => {
    const root = repo({
      "README.md": "# Top\n\n## Use `it` now\n\n[a](#use-it-now) [b](docs/a.md#alpha) [c](docs) [d](src/x.ts)\n",
      "docs/a.md": "# Alpha\n",
      "src/x.ts": "export {};\n",
    });
    expect(await checkLinks(root, repoFiles(root, ["*.md"]))).toEqual([]);
  });
});

describe("arrows", () => {
  const packages = {
    "package.json": pkg("root"),
    "packages/models/package.json": pkg("@pyrexis/models"),
    "packages/engine/package.json": pkg("@pyrexis/engine", {
      dependencies: { "@pyrexis/models": "workspace:^", zod: "^4" },
      peerDependencies: { "@pyrexis/store": "workspace:^" },
      devDependencies: { "@pyrexis/test-only": "workspace:^" },
    }),
    "packages/store/package.json": pkg("@pyrexis/store", { dependencies: { "@pyrexis/models": "workspace:^" } }),
    "apps/demo/package.json": pkg("@pyrexis/demo", { private: true, dependencies: { "@pyrexis/engine": "workspace:^" } }),
    "tools/x/package.json": pkg("@pyrexis/x", { private: true, dependencies: { "@pyrexis/engine": "workspace:^" } }),
    "packages/test-helpers/package.json": pkg("@pyrexis/test-helpers", { private: true }),
  };
  const jsons = Object.keys(packages);

  it("accepts a block that states each package's dependencies and optional peers (test-only ones, test helpers and tools left out)", () => {
    const root = repo({
      ...packages,
      "docs/ARCHITECTURE.md": ARCHITECTURE(
        [
          "@pyrexis/models   (nothing of ours)",
          "@pyrexis/store    → models",
          "@pyrexis/engine   → models; optional peer: store",
          "apps/demo         → engine",
        ].join("\n"),
      ),
    });
    expect(checkArrows(root, jsons)).toEqual([]);
  });

  it("reports a wrong arrow with the line it should be, a missing package, a stale one and an unreadable line", () => {
    const root = repo({
      ...packages,
      "docs/ARCHITECTURE.md": ARCHITECTURE(
        [
          "@pyrexis/models   (nothing of ours)",
          "@pyrexis/engine   → models, cli",
          "@pyrexis/gone     → models",
          "apps/demo <- engine",
        ].join("\n"),
      ),
    });
    expect(checkArrows(root, jsons).sort()).toEqual(
      [
        'docs/ARCHITECTURE.md: cannot read the arrows line "apps/demo <- engine"',
        "docs/ARCHITECTURE.md: the arrows block has no line for @pyrexis/store; it would read: @pyrexis/store → models",
        "docs/ARCHITECTURE.md: the arrows of @pyrexis/engine differ from its package.json; it should read: @pyrexis/engine → models; optional peer: store",
        "docs/ARCHITECTURE.md: the arrows block has no line for apps/demo; it would read: apps/demo → engine",
        "docs/ARCHITECTURE.md: the arrows block names @pyrexis/gone, which is no package of the workspace",
      ].sort(),
    );
  });

  it("reports an ARCHITECTURE.md without the block", () => {
    const root = repo({ ...packages, "docs/ARCHITECTURE.md": "# Architecture\n\nNo block.\n" });
    expect(checkArrows(root, jsons)).toContain('docs/ARCHITECTURE.md: no code block under "## Packages and their arrows"');
  });
});

describe("benchmark sections", () => {
  const current = "| a | b |\n| - | - |\n| 1 | 2 |";
  const older = "| a | b |\n| - | - |\n| 0 | 1 |";
  const performance = `# Performance\n\n## X\n\n${current}\n\nOlder:\n\n${older}\n`;

  it("accepts one current table and a link; READMEs without a benchmark section are fine", () => {
    const root = repo({
      "docs/PERFORMANCE.md": performance,
      "packages/x/README.md": `# x\n\n## Benchmark\n\nHow.\n\n${current}\n\nRuns: [PERFORMANCE](../../docs/PERFORMANCE.md#x).\n\n## Next\n\n| other | table |\n| - | - |\n`,
      "packages/y/README.md": "# y\n",
    });
    expect(checkBenchmarks(root, ["packages/x/README.md", "packages/y/README.md"])).toEqual([]);
  });

  it("reports a run log kept in a README: two tables, a table not on PERFORMANCE.md, no link", () => {
    const root = repo({
      "docs/PERFORMANCE.md": performance,
      "packages/x/README.md": `# x\n\n## Benchmark\n\n${current}\n\nA later run:\n\n| a | b |\n| - | - |\n| 3 | 4 |\n`,
      "bench/README.md": `# bench\n\n## Latest results\n\n${older}\n\nSee [PERFORMANCE](../docs/PERFORMANCE.md).\n`,
    });
    expect(checkBenchmarks(root, ["packages/x/README.md", "bench/README.md"])).toEqual([
      "packages/x/README.md: the benchmark section does not link to docs/PERFORMANCE.md",
      "packages/x/README.md: the benchmark section has 2 tables; keep the current one, move the rest to docs/PERFORMANCE.md",
      "packages/x/README.md: its benchmark table (first row: | 3 | 4 |) is not in docs/PERFORMANCE.md",
    ]);
  });
});
