// Builds workspace packages through turbo (cached) and says which ones it is building, on stderr.
// The first build of a clone takes about a minute: silence would look like a hang. Turbo's own log
// is kept back and shown only if the build fails, so stdout stays the program's that runs next.
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

/** The repository root. */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** A failed build; `exitCode` is turbo's. */
export class BuildError extends Error {
  /**
   * @param {string} message
   * @param {number} exitCode
   */
  constructor(message, exitCode) {
    super(message);
    this.name = "BuildError";
    this.exitCode = exitCode;
  }
}

/** @param {string} line */
const toStderr = (line) => void process.stderr.write(`${line}\n`);

/**
 * Runs `turbo run build` for `filters` (turbo `--filter` values, e.g. `@pyrexis/demo...`). Prints
 * nothing when everything comes from the cache; otherwise a line as each package starts building
 * and one with the total time. Throws {@link BuildError} with turbo's log when the build fails.
 *
 * @param {readonly string[]} filters
 * @param {{ what: string, log?: (line: string) => void }} options `what` names the target in the first line
 * @returns {Promise<{ built: string[], seconds: number }>}
 */
export async function build(filters, { what, log = toStderr }) {
  let turbo;
  try {
    turbo = createRequire(join(ROOT, "package.json")).resolve("turbo/bin/turbo");
  } catch {
    throw new BuildError("the workspace is not installed yet: run `npm run setup` (or `pnpm install`) in the repository first", 1);
  }
  const started = performance.now();
  const args = ["run", "build", ...filters.map((f) => `--filter=${f}`), "--output-logs=new-only", "--log-order=stream", "--ui=stream"];
  const child = spawn(process.execPath, [turbo, ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  /** @type {string[]} */
  const output = [];
  /** @type {string[]} */
  const built = [];
  const elapsed = () => ((performance.now() - started) / 1000).toFixed(1);
  /** @param {string} line */
  const onLine = (line) => {
    output.push(line);
    // "<package>:build: cache miss, executing <hash>" opens the log of a task that really runs.
    const m = /^(\S+):build: cache (?:miss|bypass)/.exec(line);
    if (!m?.[1]) return;
    if (built.length === 0) log(`building ${what} and what it needs (a clone's first build takes about a minute; later runs reuse it)`);
    built.push(m[1]);
    log(`  ${elapsed().padStart(5)} s  building ${m[1]}`);
  };
  for (const stream of [child.stdout, child.stderr]) createInterface({ input: stream }).on("line", onLine);
  /** @type {number} */
  const code = await new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (c, signal) => resolve(c ?? (signal ? 128 : 1)));
  });
  if (code !== 0) {
    throw new BuildError(`${output.join("\n")}\nthe build of ${what} failed (turbo exit code ${code}); its log is above`, code);
  }
  if (built.length > 0) log(`built ${built.length} package(s) in ${elapsed()} s`);
  return { built, seconds: (performance.now() - started) / 1000 };
}
