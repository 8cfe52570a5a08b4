#!/usr/bin/env node
// `pnpm pack:all`: builds every public package and packs it into packed/ (git-ignored), so another
// project can install Pyrexis without the npm registry, where it is not published yet:
//   npm install /path/to/pyrexis/packed/*.tgz
// `pnpm pack` writes real version ranges where package.json says `workspace:^`, so the tarballs find
// each other; third-party dependencies still come from the registry.
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { build } from "./lib/build.mjs";
import { PACKED, publicPackages } from "./lib/packages.mjs";

const packages = publicPackages();
try {
  await build(
    packages.map((p) => p.name),
    { what: "every public package" },
  );
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}

rmSync(PACKED, { recursive: true, force: true });
mkdirSync(PACKED, { recursive: true });
for (const { name, dir } of packages) {
  const r = spawnSync("pnpm", ["pack", "--pack-destination", PACKED], { cwd: dir, encoding: "utf8", shell: process.platform === "win32" });
  if (r.status !== 0) {
    process.stderr.write(`${r.stdout}${r.stderr}\npack:all: pnpm pack of ${name} failed (exit code ${r.status})\n`);
    process.exit(1);
  }
}
const tarballs = readdirSync(PACKED).filter((f) => f.endsWith(".tgz"));
for (const f of tarballs) process.stdout.write(`packed/${f}  ${(statSync(join(PACKED, f)).size / 1024).toFixed(0)} kB\n`);
process.stdout.write(`\n${tarballs.length} packages. In another project: npm install ${join(PACKED, "*.tgz")}\n`);
