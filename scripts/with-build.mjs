#!/usr/bin/env node
// `pnpm demo …` and `pnpm pyrexis …` from a clone: builds a workspace program and every package it
// imports (turbo, cached: a no-op when nothing changed), then runs it in this process, in the
// directory pnpm was started from.
//
// usage: node scripts/with-build.mjs <package> <entry file, relative to the repository root> [args…]
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { build, ROOT } from "./lib/build.mjs";

const [pkg, entry, ...rest] = process.argv.slice(2);
if (!pkg || !entry) {
  process.stderr.write("usage: node scripts/with-build.mjs <package> <entry> [args…]\n");
  process.exit(2);
}
// pnpm passes a `--` through (`pnpm demo -- --fresh`); the program's parser would take it as an operand.
const args = rest[0] === "--" ? rest.slice(1) : rest;

try {
  await build([`${pkg}...`], { what: pkg });
} catch (error) {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(error instanceof Error && "exitCode" in error && typeof error.exitCode === "number" ? error.exitCode : 1);
}

// pnpm runs root scripts in the repository root and says where it was started in INIT_CWD: relative
// paths on the command line (`--store jobs.db`) mean the user's directory.
process.chdir(process.env.INIT_CWD || process.cwd());
const file = join(ROOT, entry);
process.argv = [process.argv[0] ?? process.execPath, file, ...args];
await import(pathToFileURL(file).href);
