// TypeScript handlers modules, run by a real tsx process (its CLI, and `node --import tsx`) in
// async, thread and process modes; and the error that names the fix when no loader is there.
import { execFile } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { tsxApiHref } from "../dist/typescript.js";

const run = promisify(execFile);
const require = createRequire(import.meta.url);
const TSX_CLI = require.resolve("tsx/cli");
const TSX_LOADER = pathToFileURL(require.resolve("tsx")).href;
const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/ts/${name}`, import.meta.url));

/** Runs `args` with this Node and parses the JSON line the script prints. */
async function node(args: string[]): Promise<Record<string, unknown>> {
  const { stdout } = await run(process.execPath, args, { timeout: 60_000 });
  return JSON.parse(stdout) as Record<string, unknown>;
}

const greeted = (runtime: string) => ({ text: "hi ada", runtime, attempt: 1 });
const EVERY_MODE = { async: greeted("main thread"), thread: greeted("worker thread"), process: greeted("child process") };

describe("TypeScript handlers modules under tsx", () => {
  it.each([
    ["the tsx CLI", "handlers.ts"],
    ["the tsx CLI", "handlers.js"],
    ["node --import tsx", "handlers.ts"],
  ])("run in async, thread and process modes (%s, module named %s)", async (how, name) => {
    const args = how === "the tsx CLI" ? [TSX_CLI, fixture("run-modes.ts"), name] : ["--import", TSX_LOADER, fixture("run-modes.ts"), name];
    expect(await node(args)).toEqual(EVERY_MODE);
  });
});

describe("TypeScript handlers modules without a loader", () => {
  it("a thread fails to load one with HandlersLoadError naming the fix, unless this Node strips types itself", async () => {
    const result = await node([fixture("run-plain.mjs")]);
    if ((process.features as { typescript?: unknown }).typescript) {
      expect(result).toEqual({ output: 42 });
    } else {
      expect(result.code).toBe("HANDLERS_LOAD_FAILED");
      expect(result.message).toMatch(/plain\.ts failed to load: TypeError: Unknown file extension "\.ts"/);
      expect(result.message).toContain("run under tsx (`tsx main.ts` or `node --import tsx main.ts`");
    }
  });
});

describe("tsxApiHref", () => {
  const api = pathToFileURL(require.resolve("tsx/esm/api").replace(/\.cjs$/, ".mjs")).href;

  it("finds tsx's ESM API from the --import of the tsx CLI (a file URL), a path, or a bare tsx resolved from cwd", () => {
    expect(tsxApiHref(["--require", "x.cjs", "--import", TSX_LOADER], "/")).toBe(api);
    expect(tsxApiHref([`--import=${fileURLToPath(TSX_LOADER)}`], "/")).toBe(api);
    expect(tsxApiHref(["--import", "tsx"], fileURLToPath(new URL("..", import.meta.url)))).toBe(api);
  });

  it("is undefined without tsx, for other loaders, and for a flag without a value", () => {
    expect(tsxApiHref([], "/")).toBeUndefined();
    expect(tsxApiHref(["--import", "./my-loader.mjs", "--max-old-space-size=64"], "/")).toBeUndefined();
    expect(tsxApiHref(["--import"], "/")).toBeUndefined();
  });
});
