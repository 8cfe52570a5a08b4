// Builds dist/ when it is missing or older than src/, so the worker-thread fixture (plain .mjs
// importing ../dist/index.js) always runs the code under test.
import { execFileSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

function newest(dir: string): number {
  let t = 0;
  for (const f of readdirSync(dir, { withFileTypes: true })) {
    const p = `${dir}/${f.name}`;
    t = Math.max(t, f.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

export default function setup(): void {
  let built = 0;
  try {
    built = statSync(`${root}/dist/index.js`).mtimeMs;
  } catch {
    built = 0;
  }
  if (built >= newest(`${root}/src`)) return;
  const tsc = createRequire(`${root}/package.json`).resolve("typescript/bin/tsc");
  execFileSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], { cwd: root, stdio: "inherit" });
}
