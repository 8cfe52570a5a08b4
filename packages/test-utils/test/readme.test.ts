import { existsSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  compileExamples,
  containsLines,
  describeReadmeExamples,
  extractExamples,
  ReadmeFormatError,
  runExample,
} from "../src/readme/index.js";
import { tempDir, waitFor } from "../src/index.js";

const PACKAGE_DIR = new URL("..", import.meta.url);
const OK = new URL("./fixtures/readme-ok/README.md", import.meta.url);

// The whole mechanism on a fixture: type-check, run with output checks, excerpt.
describeReadmeExamples(OK, {
  packageDir: PACKAGE_DIR,
  expectOutput: {
    "quick-start.ts": ({ stdout }) => expect(stdout).toBe("0.6011037519201636\n"),
    "main.ts": ({ stdout }) => expect(stdout).toBe("6\n"),
    "plain.mjs": ({ stdout }) => expect(stdout).toBe("plain js true\n"),
  },
});

describe("extractExamples", () => {
  it("finds ts and js blocks with their mode, file name and fence line", () => {
    const md = [
      "# T",
      "",
      "## Quick look",
      "```ts",
      "a();",
      "```",
      "```sh",
      "ls",
      "```",
      "```js no-run",
      "// handlers.mjs — x",
      "b();",
      "```",
    ].join("\n");
    expect(extractExamples(md)).toEqual([
      { lang: "ts", mode: "run", file: "quick-look.ts", line: 4, code: "a();", excerptOf: undefined },
      { lang: "js", mode: "no-run", file: "handlers.mjs", line: 10, code: "// handlers.mjs — x\nb();", excerptOf: undefined },
    ]);
  });

  it("numbers blocks that share a heading and reads every flag", () => {
    const md = ["## Use", "```ts", "1", "```", "```typescript no-check", "2", "```", "~~~mts excerpt=test/a.test.ts", "3", "~~~"].join(
      "\n",
    );
    expect(extractExamples(md).map((e) => [e.file, e.mode, e.excerptOf])).toEqual([
      ["use.ts", "run", undefined],
      ["use-2.ts", "no-check", undefined],
      ["use-3.ts", "excerpt", "test/a.test.ts"],
    ]);
  });

  it("de-indents a block nested in a list and ignores headings inside code", () => {
    const md = ["- step:", "  ```ts", "  const x = 1;", "  # not a heading", "  ```"].join("\n");
    const [e] = extractExamples(md);
    expect(e).toMatchObject({ file: "example.ts", code: "const x = 1;\n# not a heading" });
  });

  it("refuses what it cannot check as marked, naming the line", () => {
    expect(() => extractExamples("```ts norun\nx\n```", "R.md")).toThrow(
      new ReadmeFormatError('R.md:1: unknown example flag "norun" (known: no-run, no-check, excerpt=<path>)'),
    );
    expect(() => extractExamples("```ts no-run no-check\nx\n```")).toThrow(/not several/);
    expect(() => extractExamples("```ts excerpt=\nx\n```")).toThrow(/unknown example flag "excerpt="/);
    expect(() => extractExamples("text\n```ts\nx\n", "R.md")).toThrow("R.md:2: code block is never closed");
    expect(() => extractExamples("```js\n// main.ts\n```")).toThrow(/cannot be "main.ts" \(use .js or .mjs\)/);
    expect(() => extractExamples("```ts\n// a.ts\n```\n```ts\n// a.ts\n```", "R.md")).toThrow('R.md:4: a second block is named "a.ts"');
  });
});

describe("containsLines", () => {
  it("matches consecutive lines, ignoring indentation and blank lines", () => {
    expect(containsLines("a\n  b\n\n  c\nd", "b\nc")).toBe(true);
    expect(containsLines("a\nb\nx\nc", "b\nc")).toBe(false);
    expect(containsLines("a", "  \n")).toBe(false);
  });
});

describe("compileExamples", () => {
  it("places type errors at their README line, in ts and js blocks alike (implicit any allowed in js)", () => {
    const md = [
      "# X",
      "",
      "```ts",
      "const n: number = 1;",
      "const s: string = n;",
      "```",
      "",
      "```js",
      "// bad.mjs",
      "Math.round('1');",
      "export const add = (a, b) => a + b; // implicit any: fine in JavaScript",
      "```",
    ].join("\n");
    const tmp = tempDir();
    const compiled = compileExamples(extractExamples(md, "X.md"), {
      readmeName: "X.md",
      workDir: tmp.dir,
      configFrom: fileURLToPath(PACKAGE_DIR),
    });
    expect(compiled.diagnostics).toEqual([
      { where: "X.md:5:7 (x.ts)", message: "TS2322: Type 'number' is not assignable to type 'string'." },
      { where: "X.md:10:12 (bad.mjs)", message: "TS2345: Argument of type 'string' is not assignable to parameter of type 'number'." },
    ]);
    // Emitted anyway, so a run can still show what else is wrong.
    const [ts, js] = extractExamples(md, "X.md");
    expect(existsSync(compiled.outputOf(ts!))).toBe(true);
    expect(compiled.outputOf(js!)).toMatch(/out\/bad\.mjs$/);
    expect(existsSync(compiled.outputOf(js!))).toBe(true);
  });
});

describe("runExample", () => {
  it("reports a non-zero exit with what the example printed", async () => {
    const tmp = tempDir();
    const file = tmp.file("fail.mjs");
    writeFileSync(file, 'console.log("out"); console.error("err"); process.exitCode = 3;');
    expect(await runExample(file, { cwd: tmp.dir, timeoutMs: 60_000 })).toEqual({
      code: 3,
      signal: null,
      timedOut: false,
      stdout: "out\n",
      stderr: "err\n",
    });
  });

  it("kills an example that never exits, and every process it started", async () => {
    const tmp = tempDir();
    const file = tmp.file("hang.mjs");
    writeFileSync(
      file,
      [
        'import { spawn } from "node:child_process";',
        'const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });',
        "console.log(child.pid);",
        "setInterval(() => {}, 1000);",
      ].join("\n"),
    );
    const output = await runExample(file, { cwd: tmp.dir, timeoutMs: 1_500 });
    expect(output).toMatchObject({ code: null, signal: "SIGKILL", timedOut: true });
    const grandchild = Number(output.stdout.trim());
    expect(grandchild).toBeGreaterThan(0);
    await waitFor("the example's own child to be gone", () => {
      try {
        process.kill(grandchild, 0);
        return false;
      } catch {
        return true;
      }
    });
  });
});

describe("describeReadmeExamples refuses a check that would pass vacuously", () => {
  it("when the README has nothing to check", () => {
    const tmp = tempDir();
    writeFileSync(tmp.file("README.md"), "# Empty\n\n```sh\nls\n```\n\n```ts no-check\nx\n```\n");
    expect(() => describeReadmeExamples(tmp.file("README.md"))).toThrow(/no ts\/js example to check/);
  });

  it("when expectOutput names a block that does not run", () => {
    expect(() => describeReadmeExamples(OK, { packageDir: PACKAGE_DIR, expectOutput: { "shapes.ts": () => {} } })).toThrow(
      /expectOutput names "shapes.ts", but the runnable examples are: quick-start.ts, main.ts, plain.mjs/,
    );
  });
});
