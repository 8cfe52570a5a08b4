// TypeScript handlers modules. Under tsx (`tsx main.ts`, `node --import tsx main.ts`) the main
// thread and child processes (which inherit the `--import`) load `.ts` files, but worker threads
// do not: on Node 20 tsx registers its loader in the main thread only, and hooks registered there
// do not reach workers. So a thread pool started under tsx tells its workers where tsx's own API
// is (`tsx/esm/api`, a public entry of the tsx package), and they import the handlers module
// through its `tsImport`. Without tsx, a TypeScript module that Node cannot load fails with a
// HandlersLoadError whose message names the fix.
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, isAbsolute, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

/** Loads a module by href: `import()`, or tsx's `tsImport` in a worker thread under tsx. */
export type ModuleImporter = (href: string) => Promise<unknown>;

/** Node's own `import()`. */
export const nativeImport: ModuleImporter = (href) => import(href) as Promise<unknown>;

/** A `--import` / `--loader` value that names tsx: `tsx`, `tsx/esm`, or a file inside a tsx package. */
const TSX_SPECIFIER = /^tsx(\/esm)?$|[\\/]tsx[\\/]dist[\\/]/;

/** The values of the module-loading flags in `execArgv` (`--import x`, `--import=x`, `--loader x`, …). */
function loaderValues(execArgv: readonly string[]): string[] {
  const values: string[] = [];
  for (let i = 0; i < execArgv.length; i++) {
    const match = /^--(import|loader|experimental-loader)(=(.*))?$/.exec(execArgv[i]!);
    if (!match) continue;
    const value = match[3] ?? execArgv[++i];
    if (value !== undefined) values.push(value);
  }
  return values;
}

/**
 * The href of tsx's ESM API (`tsx/esm/api`, which exports `tsImport`) when `execArgv` loads tsx,
 * resolved from where that flag points (a bare `tsx` from `cwd`, as Node resolves it); otherwise
 * `undefined`. Never throws: a tsx that cannot be found is as good as none.
 */
export function tsxApiHref(execArgv: readonly string[] = process.execArgv, cwd: string = process.cwd()): string | undefined {
  for (const value of loaderValues(execArgv)) {
    if (!TSX_SPECIFIER.test(value)) continue;
    try {
      const from = value.startsWith("file:") ? fileURLToPath(value) : isAbsolute(value) ? value : join(cwd, "noop.js");
      // A file inside the tsx package resolves its own name (package self-reference).
      const packageJson = createRequire(from).resolve("tsx/package.json");
      const exports = (JSON.parse(readFileSync(packageJson, "utf8")) as { exports?: Record<string, unknown> }).exports;
      const api = exports?.["./esm/api"] as { import?: string | { default?: string } } | undefined;
      const entry = typeof api?.import === "string" ? api.import : api?.import?.default;
      if (typeof entry === "string") return pathToFileURL(join(dirname(packageJson), entry)).href;
    } catch {
      // Not resolvable from there: keep looking.
    }
  }
  return undefined;
}

/** Imports modules through tsx's `tsImport` (its API module at `apiHref`), which loads TypeScript. */
export function tsxImporter(apiHref: string): ModuleImporter {
  return async (href) => {
    const api = (await import(apiHref)) as { tsImport(specifier: string, parentURL: string): Promise<unknown> };
    return api.tsImport(href, import.meta.url);
  };
}

const TS_FILE = /\.(c|m)?tsx?$/;

/**
 * How to fix a failed import of `href`, or `""`: for a TypeScript file Node could not load (or a
 * `.js` specifier whose `.ts` sibling exists, as tsx maps them), what to run instead.
 */
export function typescriptHint(href: string, error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  let typescript = code === "ERR_UNKNOWN_FILE_EXTENSION" && TS_FILE.test(href);
  if (!typescript && code === "ERR_MODULE_NOT_FOUND" && href.startsWith("file:") && /\.(c|m)?js$/.test(href)) {
    const path = fileURLToPath(href);
    typescript = existsSync(path.replace(/js$/, "ts"));
  }
  return typescript
    ? "; TypeScript handlers need a TypeScript loader in every worker: run under tsx (`tsx main.ts` or `node --import tsx main.ts`; Pyrexis passes it on to worker threads and child processes), use a Node.js that strips types, or compile the module to JavaScript"
    : "";
}
