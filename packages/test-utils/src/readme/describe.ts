// The one way README examples are checked: a package's `test/readme.test.ts` calls
// describeReadmeExamples, which turns the README's blocks into vitest tests.
import { mkdirSync, mkdtempSync, readFileSync, rmdirSync, rmSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, it } from "vitest";
import { compileExamples, type CompiledExamples } from "./compile.js";
import { extractExamples } from "./extract.js";
import { runExample, type ExampleOutput } from "./run.js";

/** Options of {@link describeReadmeExamples}. */
export interface ReadmeCheckOptions {
  /**
   * The package whose name and dependencies the examples import (they are compiled and run in a
   * directory inside it). Default: the README's directory.
   */
  readonly packageDir?: URL | string;
  /**
   * Checks on what runnable examples print, by example file name (`main.ts`, or the slug of the
   * section heading: `example.ts`, `quick-look.ts`). Each runs after the exit-0 check.
   */
  readonly expectOutput?: Readonly<Record<string, (output: ExampleOutput) => void>>;
  /** Bound on one example's run in milliseconds (default 60,000): a hang fails instead of stalling CI. */
  readonly timeoutMs?: number;
}

/** Name of the git-ignored directory, inside the package, that examples are compiled and run in. */
export const EXAMPLES_DIR = ".readme-examples";

const toPath = (p: URL | string): string => (p instanceof URL ? fileURLToPath(p) : resolve(p));

function report(output: ExampleOutput): string {
  const parts = [
    output.stdout.trimEnd() && `stdout:\n${output.stdout.trimEnd()}`,
    output.stderr.trimEnd() && `stderr:\n${output.stderr.trimEnd()}`,
  ];
  return parts.filter(Boolean).join("\n") || "(no output)";
}

/**
 * Declares the tests of a README's ts/js examples (see CONTRIBUTING.md for the convention):
 * one test that all of them type-check together, one per runnable block that it exits 0 within
 * the bound (then the `expectOutput` check of that block, if any), one per `excerpt=` block that
 * its lines appear in the named file. Throws at collection when the README has nothing to check
 * or `expectOutput` names a block that does not run, so a wrong path cannot pass silently.
 *
 * @param readme - the README (a file URL or a path).
 * @example
 * ```ts
 * // packages/scheduler/test/readme.test.ts
 * import { expect } from "vitest";
 * import { describeReadmeExamples } from "@pyrexis/test-utils/readme";
 *
 * describeReadmeExamples(new URL("../README.md", import.meta.url), {
 *   expectOutput: { "example.ts": ({ stdout }) => expect(stdout).toContain("retry-1") },
 * });
 * ```
 */
export function describeReadmeExamples(readme: URL | string, options: ReadmeCheckOptions = {}): void {
  const readmePath = toPath(readme);
  const packageDir = options.packageDir === undefined ? dirname(readmePath) : toPath(options.packageDir);
  const readmeName = relative(process.cwd(), readmePath) || readmePath;
  const timeoutMs = options.timeoutMs ?? 60_000;
  const examples = extractExamples(readFileSync(readmePath, "utf8"), readmeName);
  const checked = examples.filter((e) => e.mode !== "no-check");
  if (checked.length === 0) throw new Error(`${readmeName}: no ts/js example to check (every block is no-check, or there is none)`);
  const runnable = examples.filter((e) => e.mode === "run");
  for (const name of Object.keys(options.expectOutput ?? {})) {
    if (!runnable.some((e) => e.file === name))
      throw new Error(
        `${readmeName}: expectOutput names "${name}", but the runnable examples are: ${runnable.map((e) => e.file).join(", ") || "none"}`,
      );
  }

  let workDir: string | undefined;
  let compiled: CompiledExamples | undefined;
  const compile = (): CompiledExamples => {
    if (compiled) return compiled;
    mkdirSync(join(packageDir, EXAMPLES_DIR), { recursive: true });
    workDir = mkdtempSync(join(packageDir, EXAMPLES_DIR, "readme-"));
    compiled = compileExamples(examples, { readmeName, workDir, configFrom: packageDir });
    return compiled;
  };

  describe(`README examples: ${readmeName}`, () => {
    afterAll(() => {
      if (workDir === undefined) return;
      rmSync(workDir, { recursive: true, force: true });
      // The shared parent goes too once empty (another test file may still be using it).
      try {
        rmdirSync(dirname(workDir));
      } catch (error) {
        if (!["ENOTEMPTY", "EEXIST", "ENOENT"].includes((error as NodeJS.ErrnoException).code ?? "")) throw error;
      }
    });

    if (examples.some((e) => e.mode === "run" || e.mode === "no-run")) {
      it("type-check", () => {
        const { diagnostics } = compile();
        if (diagnostics.length > 0)
          throw new Error(`type errors in ${readmeName}'s examples:\n${diagnostics.map((d) => `${d.where} ${d.message}`).join("\n")}`);
      }, 120_000);
    }

    for (const example of runnable) {
      it(
        `${example.file} (line ${example.line}) runs and exits 0`,
        async () => {
          const file = compile().outputOf(example);
          // Each run in a directory of its own: files one example creates (./jobs.db) never meet another's.
          const cwd = join(workDir!, "run", example.file);
          mkdirSync(cwd, { recursive: true });
          const output = await runExample(file, { cwd, timeoutMs });
          const how = output.timedOut
            ? `did not exit within ${timeoutMs} ms`
            : output.signal
              ? `was killed by ${output.signal}`
              : `exited with ${output.code}`;
          if (output.code !== 0 || output.timedOut)
            throw new Error(`${readmeName}:${example.line} ${example.file} ${how}\n${report(output)}`);
          options.expectOutput?.[example.file]?.(output);
        },
        timeoutMs + 120_000,
      );
    }

    for (const example of examples.filter((e) => e.mode === "excerpt")) {
      it(`${example.file} (line ${example.line}) is an excerpt of ${example.excerptOf}`, () => {
        const source = readFileSync(resolve(dirname(readmePath), example.excerptOf!), "utf8");
        if (!containsLines(source, example.code))
          throw new Error(`${readmeName}:${example.line}: these lines are not in ${example.excerptOf}:\n${example.code}`);
      });
    }
  });
}

/** True when `excerpt`'s non-blank lines appear consecutively in `source`'s non-blank lines (indentation ignored). */
export function containsLines(source: string, excerpt: string): boolean {
  const norm = (text: string): string[] =>
    text
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l !== "");
  const hay = norm(source);
  const needle = norm(excerpt);
  if (needle.length === 0) return false;
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}
