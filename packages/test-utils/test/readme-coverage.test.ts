// The convention only works if every README with examples is wired to a check: this test fails
// when a package's README gains ts/js examples and no test file calls describeReadmeExamples on it.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";
import { extractExamples } from "../src/readme/index.js";

const ROOT = fileURLToPath(new URL("../../..", import.meta.url));

function workspaceDirs(): string[] {
  const yaml = readFileSync(join(ROOT, "pnpm-workspace.yaml"), "utf8");
  const globs = [...yaml.matchAll(/^\s*-\s*["']?([^"'\s#]+)["']?\s*$/gm)].map((m) => m[1]!).filter((g) => !g.includes("@"));
  const dirs = [ROOT];
  for (const glob of globs) {
    if (glob.endsWith("/*")) {
      const parent = join(ROOT, glob.slice(0, -2));
      for (const name of readdirSync(parent)) if (existsSync(join(parent, name, "package.json"))) dirs.push(join(parent, name));
    } else if (existsSync(join(ROOT, glob, "package.json"))) dirs.push(join(ROOT, glob));
  }
  return dirs;
}

function testFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (name === "fixtures" || name === "node_modules") return [];
    return statSync(p).isDirectory() ? testFiles(p) : /\.test\.ts$/.test(name) ? [p] : [];
  });
}

it("every README with ts/js examples is checked by some package's test", () => {
  const dirs = workspaceDirs();
  expect(dirs.length, "workspace packages found").toBeGreaterThan(5);
  const covered = new Set<string>();
  for (const file of dirs.flatMap((d) => testFiles(join(d, "test")))) {
    for (const m of readFileSync(file, "utf8").matchAll(/describeReadmeExamples\(\s*new URL\(\s*"([^"]+)"\s*,\s*import\.meta\.url\s*\)/g)) {
      covered.add(resolve(dirname(file), m[1]!));
    }
  }
  const unchecked = dirs
    .map((d) => join(d, "README.md"))
    .filter((readme) => existsSync(readme) && extractExamples(readFileSync(readme, "utf8"), readme).some((e) => e.mode !== "no-check"))
    .filter((readme) => !covered.has(readme))
    .map((readme) => relative(ROOT, readme));
  expect(unchecked, "READMEs with examples but no describeReadmeExamples test (add test/readme.test.ts)").toEqual([]);
});
