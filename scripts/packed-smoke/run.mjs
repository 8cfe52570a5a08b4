#!/usr/bin/env node
// The packed smoke test (`pnpm test:packed`, and a step of .ci/run): installs packed/*.tgz with npm
// into a fresh project in the OS temp folder, outside the workspace so nothing resolves from it,
// exactly as the README says; checks that every source map of the installed packages points at a
// file that was shipped; runs smoke.mjs (async, thread and process jobs on a SQLite file); then the
// installed `pyrexis` command through npx. Exits non-zero with the reason on any failure.
// PYREXIS_KEEP_SMOKE=1 keeps the project folder for a look.
import { spawnSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { PACKED } from "../lib/packages.mjs";

const here = dirname(fileURLToPath(import.meta.url));

/** A failed check: reported on stderr, exit code 1. */
class SmokeFailure extends Error {}

/**
 * @param {string} message
 * @returns {never}
 */
function fail(message) {
  throw new SmokeFailure(message);
}

const tarballs = existsSync(PACKED) ? readdirSync(PACKED).filter((f) => f.endsWith(".tgz")) : [];
if (tarballs.length === 0) {
  process.stderr.write("packed smoke: no tarballs in packed/: run `pnpm pack:all` first\n");
  process.exit(1);
}

// A script run by pnpm inherits pnpm's settings as npm_config_* variables (its global config file,
// `yes=`, its node-gyp…), which would change what npm does. Keep only the ones a machine may need.
const KEEP = new Set(["npm_config_nodedir", "npm_config_registry", "npm_config_cafile", "npm_config_proxy", "npm_config_https_proxy"]);
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(npm|pnpm)_/i.test(k) || KEEP.has(k.toLowerCase())));

/**
 * Runs a command in the project, echoing it; fails the smoke test on a non-zero exit.
 * @param {string} what
 * @param {string} command
 * @param {readonly string[]} args
 * @param {string} cwd
 * @returns {{ stdout: string, seconds: number }}
 */
function run(what, command, args, cwd) {
  const started = performance.now();
  process.stderr.write(`packed smoke: ${what}\n`);
  const r = spawnSync(command, args, {
    cwd,
    env,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    shell: process.platform === "win32",
  });
  const seconds = (performance.now() - started) / 1000;
  if (r.status !== 0) fail(`${what} failed (exit code ${r.status}):\n${r.stdout}${r.stderr}`);
  return { stdout: r.stdout, seconds };
}

/**
 * Every `sources` entry of every source map (and declaration map) in the installed @pyrexis
 * packages must name a file of the package: a stack trace or "go to definition" lands on it.
 * @param {string} project
 * @returns {number} how many maps were checked
 */
function checkSourceMaps(project) {
  const scope = join(project, "node_modules", "@pyrexis");
  let maps = 0;
  /** @param {string} dir */
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".map")) {
        maps++;
        /** @type {{ sources: string[], sourceRoot?: string }} */
        const map = JSON.parse(readFileSync(path, "utf8"));
        for (const source of map.sources) {
          const target = resolve(dirname(path), map.sourceRoot ?? "", source);
          if (!existsSync(target)) fail(`${path.slice(project.length + 1)} points at ${source}, which the tarball does not ship`);
        }
      }
    }
  };
  for (const pkg of readdirSync(scope)) walk(join(scope, pkg, "dist"));
  if (maps === 0) fail("the installed packages have no source maps at all");
  return maps;
}

const started = performance.now();
const project = mkdtempSync(join(tmpdir(), "pyrexis-packed-"));
try {
  writeFileSync(
    join(project, "package.json"),
    `${JSON.stringify({ name: "pyrexis-packed-smoke", private: true, type: "module" }, null, 2)}\n`,
  );
  for (const f of ["handlers.mjs", "smoke.mjs"]) copyFileSync(join(here, f), join(project, f));

  // The README's line: npm install <clone>/packed/*.tgz (the shell expands the glob).
  const install = run(
    `npm install ${tarballs.length} tarballs into ${project}`,
    "npm",
    ["install", "--no-audit", "--no-fund", "--loglevel=error", ...tarballs.map((f) => join(PACKED, f))],
    project,
  );
  const maps = checkSourceMaps(project);
  const program = run("node --enable-source-maps smoke.mjs", process.execPath, ["--enable-source-maps", "smoke.mjs"], project);

  // The installed CLI through npx (--no: never ask the registry), with the same handlers module.
  const pyrexis = (/** @type {string[]} */ ...args) => run(`npx pyrexis ${args.join(" ")}`, "npx", ["--no", "pyrexis", ...args], project);
  for (const mode of ["async", "thread", "process"])
    pyrexis("submit", "where", `{"via":"cli"}`, "--mode", mode, "--store", "cli.db", "--handlers", "./handlers.mjs");
  pyrexis("worker", "--store", "cli.db", "--handlers", "./handlers.mjs", "--exit-when-drained", "-q");
  /** @type {{ jobs: { status: string, mode: string }[] }} */
  const listed = JSON.parse(pyrexis("list", "--store", "cli.db", "--json").stdout);
  const done = listed.jobs
    .filter((j) => j.status === "completed")
    .map((j) => j.mode)
    .sort();
  if (done.join(",") !== "async,process,thread") fail(`the CLI's jobs ended ${JSON.stringify(listed.jobs.map((j) => [j.mode, j.status]))}`);

  process.stdout.write(program.stdout);
  process.stdout.write(
    `packed smoke: ok in ${((performance.now() - started) / 1000).toFixed(0)} s (npm install ${install.seconds.toFixed(0)} s); ` +
      `${maps} source maps point at shipped files; npx pyrexis ran a job per mode\n`,
  );
} catch (error) {
  if (!(error instanceof SmokeFailure)) throw error;
  process.stderr.write(`packed smoke: ${error.message}\n`);
  process.exitCode = 1;
} finally {
  if (process.env.PYREXIS_KEEP_SMOKE === "1") process.stderr.write(`packed smoke: kept ${project}\n`);
  else rmSync(project, { recursive: true, force: true });
}
