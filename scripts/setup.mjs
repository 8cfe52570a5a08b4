#!/usr/bin/env node
// `npm run setup`: the first command on a machine with only Node.js. Installs the pnpm this
// repository pins (package.json `packageManager`) when no pnpm is on the PATH, then installs the
// workspace. Uses nothing but Node's own modules: nothing is installed yet when it runs.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./lib/build.mjs";

/** @param {string} line */
const say = (line) => void process.stderr.write(`setup: ${line}\n`);

/** @param {string} message */
function fail(message) {
  say(message);
  process.exit(1);
}

/** @type {{ packageManager: string, engines: { node: string } }} */
const manifest = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
const [pmName, pinned] = manifest.packageManager.split("@");
if (pmName !== "pnpm" || !pinned) fail(`package.json packageManager is "${manifest.packageManager}", expected pnpm@<version>`);

const wantNode = /(\d+)\.(\d+)/.exec(manifest.engines.node);
const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
if (wantNode && (major < Number(wantNode[1]) || (major === Number(wantNode[1]) && minor < Number(wantNode[2])))) {
  fail(`Node.js ${manifest.engines.node} is needed, this is ${process.version}`);
}

// Windows runs npm and pnpm through their .cmd shims, which need a shell.
const shell = process.platform === "win32";

/**
 * The version of `pnpm` on the PATH, or undefined when there is none.
 * @param {string} command
 */
function versionOf(command) {
  const r = spawnSync(command, ["--version"], { encoding: "utf8", shell });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

let pnpm = "pnpm";
const found = versionOf(pnpm);
if (found === undefined) {
  say(`pnpm is not installed; installing pnpm@${pinned} with npm (npm install --global pnpm@${pinned})`);
  const r = spawnSync("npm", ["install", "--global", "--no-fund", "--no-audit", `pnpm@${pinned}`], { stdio: "inherit", shell });
  if (r.status !== 0) {
    fail(
      `could not install pnpm globally (npm exit code ${r.status}). If npm may not write to its global folder, ` +
        `point it at one of yours (npm config set prefix ~/.local, with ~/.local/bin on your PATH) and run npm run setup again, ` +
        `or install pnpm another way: https://pnpm.io/installation`,
    );
  }
  if (versionOf(pnpm) === undefined) {
    // Installed, but npm's global bin folder is not on this PATH: use it by its full path for now.
    const prefix = spawnSync("npm", ["prefix", "--global"], { encoding: "utf8", shell }).stdout.trim();
    const bin = process.platform === "win32" ? prefix : join(prefix, "bin");
    pnpm = join(bin, "pnpm");
    say(`pnpm is installed in ${bin}, which is not on your PATH: add it to run pnpm demo and pnpm test (this setup goes on with ${pnpm})`);
  }
} else {
  // pnpm 10 switches to the pinned version by itself (manage-package-manager-versions).
  say(`using pnpm ${found} (this repository pins ${pinned})`);
}

say("installing the workspace (pnpm install)");
const install = spawnSync(pnpm, ["install"], { cwd: ROOT, stdio: "inherit", shell });
if (install.status !== 0) fail(`pnpm install failed (exit code ${install.status}); its output is above`);
say("done: `pnpm demo` runs the demo (it builds what it needs first), `pnpm test` runs every test");
