// The packages this repository publishes, and where `pnpm pack:all` puts their tarballs.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./build.mjs";

/** Where `pnpm pack:all` writes the tarballs (git-ignored). */
export const PACKED = join(ROOT, "packed");

/**
 * The packages under packages/ that are not private, by name and directory.
 * @returns {{ name: string, dir: string }[]}
 */
export function publicPackages() {
  const out = [];
  for (const entry of readdirSync(join(ROOT, "packages"), { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const dir = join(ROOT, "packages", entry.name);
    /** @type {{ name: string, private?: boolean }} */
    const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
    if (manifest.private !== true) out.push({ name: manifest.name, dir });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}
