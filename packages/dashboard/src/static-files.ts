// The built UI (index.html, app.js, app.css), shipped in the package under dist/ui and read once
// into memory. Only these names are served: no path from a request ever reaches the file system.
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** A file of the UI, ready to send. */
export interface StaticFile {
  readonly type: string;
  readonly body: Buffer;
}

const FILES: Readonly<Record<string, { file: string; type: string }>> = {
  "/": { file: "index.html", type: "text/html; charset=utf-8" },
  "/app.js": { file: "app.js", type: "text/javascript; charset=utf-8" },
  "/app.css": { file: "app.css", type: "text/css; charset=utf-8" },
};

/**
 * Where the built UI is: `ui/` beside this module in the published package (dist/), or
 * `../dist/ui/` when this module runs from src/ (the package's own tests).
 */
export function defaultUiDir(): string {
  const beside = fileURLToPath(new URL("./ui/", import.meta.url));
  if (existsSync(`${beside}index.html`)) return beside;
  return fileURLToPath(new URL("../dist/ui/", import.meta.url));
}

/** Reads the UI files of `dir`; throws a TypeError naming the missing file when the UI was not built. */
export function loadStaticFiles(dir: string): ReadonlyMap<string, StaticFile> {
  const out = new Map<string, StaticFile>();
  for (const [path, { file, type }] of Object.entries(FILES)) {
    const full = `${dir.endsWith("/") ? dir : `${dir}/`}${file}`;
    if (!existsSync(full))
      throw new TypeError(
        `@pyrexis/dashboard: the built UI is missing ${file} (build the package: pnpm --filter @pyrexis/dashboard build)`,
      );
    out.set(path, { type, body: readFileSync(full) });
  }
  return out;
}
