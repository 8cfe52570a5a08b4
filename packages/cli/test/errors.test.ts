import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "@pyrexis/test-utils";
import { HANDLERS, pyrexis, type RunResult } from "./helpers.js";

const tmp = tempDir("pyrexis-cli-errors-");
const dir = tmp.dir;
const db = tmp.file("jobs.db");

beforeAll(async () => {
  const r = await pyrexis(["submit", "echo", "1", "--id", "known", "--store", db], dir);
  expect(r.code, r.stderr).toBe(0);
});
afterAll(() => tmp.remove());

const digest = async (path: string): Promise<string> =>
  createHash("sha256")
    .update(await readFile(path))
    .digest("hex");

/** Exactly one line on stderr, `pyrexis: error: …`, nothing on stdout. */
function expectOneLineError(r: RunResult, code: number, pattern: RegExp): void {
  expect(r.code, r.stderr).toBe(code);
  expect(r.stdout).toBe("");
  expect(r.stderr.endsWith("\n")).toBe(true);
  expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
  expect(r.stderr).toMatch(/^pyrexis: error: /);
  expect(r.stderr).toMatch(pattern);
}

// The bad inputs of the brief, through the real bin. More cases run in-process in cli.test.ts.
// [description, args (the store is appended), exit code, message pattern, stdin]
const BAD_INPUTS: [string, string[], number, RegExp, string?][] = [
  ["invalid JSON payload", ["submit", "echo", '{"a":'], 2, /payload is not valid JSON/],
  [
    "unknown flag, with a suggestion",
    ["submit", "echo", "--prioirty", "3"],
    2,
    /unknown option '--prioirty' \(Did you mean --priority\?\)/,
  ],
  ["priority out of range", ["submit", "echo", "--priority", "11"], 2, /--priority .*between 0 and 10, got 11/],
  ["unknown mode", ["submit", "echo", "--mode", "gpu"], 2, /'gpu' is invalid\. Allowed choices are async, thread, process/],
  [
    "unknown handler (checked against --handlers)",
    ["submit", "nope", "--handlers", HANDLERS],
    2,
    /no handler named "nope"; known handlers: echo, sum, fail, stamp, untilFile, slow/,
  ],
  [
    "bad line in a JSON Lines file: names the line and field",
    ["submit", "--file", "-"],
    2,
    /invalid job spec on line 3: priority: /,
    '{"handler":"echo"}\n\n{"handler":"echo","priority":42}\n',
  ],
  [
    "an existing id on a line of the file",
    ["submit", "--file", "-"],
    1,
    /line 2: job known already exists/,
    '{"handler":"echo","id":"fresh"}\n{"handler":"echo","id":"known"}\n',
  ],
  [
    "an existing id for other work, with --if-exists return",
    ["submit", "echo", "2", "--id", "known", "--if-exists", "return"],
    1,
    /job known already exists with a different payload/,
  ],
  [
    "--if-exists with an unknown value",
    ["submit", "echo", "--if-exists", "replace"],
    2,
    /'replace' is invalid\. Allowed choices are error, return/,
  ],
  ["unknown job id (status)", ["status", "nope"], 1, /job nope not found/],
  ["unknown job id (cancel)", ["cancel", "nope"], 1, /job nope not found/],
];

describe.concurrent("every bad input: one line on stderr, exit 1 or 2, nothing written", () => {
  it.each(BAD_INPUTS)("%s", async (_name, args, code, pattern, input) => {
    const before = await digest(db);
    const r = await pyrexis([...args, ...(args.includes("--store") ? [] : ["--store", db])], dir, input === undefined ? {} : { input });
    expectOneLineError(r, code, pattern);
    expect(await digest(db)).toBe(before);
  });

  it("the store still holds only the one job submitted in setup", async () => {
    const r = await pyrexis(["list", "--json", "--store", db], dir);
    expect(JSON.parse(r.stdout).jobs.map((j: { id: string }) => j.id)).toEqual(["known"]);
  });

  it.each(["status known", "list", "cancel known", "metrics", "monitor --once"])(
    "%s on a missing database fails and creates no file",
    async (command) => {
      const missing = join(dir, "missing.db");
      const r = await pyrexis([...command.split(" "), "--store", missing], dir);
      expectOneLineError(r, 1, /no Pyrexis database at .*missing\.db \(this command never creates one/);
      expect(existsSync(missing)).toBe(false);
      expect(existsSync(`${missing}-wal`)).toBe(false);
    },
  );

  it.each([
    ["a garbage file", "garbage.db", Buffer.from("this is not a database, just text\n".repeat(200)), /is not a SQLite database/],
    ["an empty file", "empty.db", Buffer.alloc(0), /is an empty file, not a Pyrexis database/],
  ])("refuses %s, leaving it byte-for-byte unchanged", async (_name, file, bytes, pattern) => {
    const path = join(dir, file);
    await writeFile(path, bytes);
    const results = await Promise.all(["list", "cancel x"].map((command) => pyrexis([...command.split(" "), "--store", path], dir)));
    for (const r of results) expectOneLineError(r, 1, pattern);
    expect((await readFile(path)).equals(bytes)).toBe(true);
    expect(existsSync(`${path}-wal`)).toBe(false);
  });

  it("refuses a foreign SQLite database (another application's), unmodified", async () => {
    // better-sqlite3 is storage-sqlite's dependency, not ours: borrow it to build the foreign file.
    const require = createRequire(createRequire(import.meta.url).resolve("@pyrexis/storage-sqlite"));
    const Database = require("better-sqlite3") as new (path: string) => { exec(sql: string): void; close(): void };
    const path = join(dir, "foreign.db");
    const foreign = new Database(path);
    foreign.exec("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users (name) VALUES ('ada');");
    foreign.close();
    const before = await digest(path);
    const results = await Promise.all([["list"], ["submit", "echo"]].map((args) => pyrexis([...args, "--store", path], dir)));
    for (const r of results) expectOneLineError(r, 1, /not a Pyrexis/i);
    expect(await digest(path)).toBe(before);
  });
});

describe.concurrent("--help", () => {
  it.each([
    ["", /Usage: pyrexis \[options\] \[command\][\s\S]*submit[\s\S]*monitor[\s\S]*Exit codes: 0 ok, 1 runtime error/],
    [
      "submit",
      /Usage: pyrexis submit \[options\] \[handler\] \[payload\][\s\S]*without it any name is accepted[\s\S]*--priority <n>[\s\S]*--file <path>/,
    ],
    ["status", /Usage: pyrexis status \[options\] <id>[\s\S]*--json/],
    ["cancel", /Usage: pyrexis cancel \[options\] <id>[\s\S]*stops it at its next lease renewal/],
    ["dead-letters", /Usage: pyrexis dead-letters \[options\][\s\S]*--handler <name>[\s\S]*--error-code <code>/],
    ["redrive", /Usage: pyrexis redrive \[options\] \[id\][\s\S]*Safe to repeat[\s\S]*--dry-run/],
    ["list", /Usage: pyrexis list \[options\][\s\S]*--status <status>[\s\S]*--limit <n>/],
    [
      "worker",
      /Usage: pyrexis worker \[options\][\s\S]*picks up jobs submitted later by other processes[\s\S]*as many workers on one store[\s\S]*--concurrency <spec>[\s\S]*--grace-ms <ms>[\s\S]*--poll-ms <ms>[\s\S]*--metrics-port <port>/,
    ],
    ["metrics", /Usage: pyrexis metrics \[options\][\s\S]*--prometheus/],
    ["monitor", /Usage: pyrexis monitor \[options\][\s\S]*--once/],
  ])("pyrexis %s --help", async (command, pattern) => {
    const r = await pyrexis([...(command ? [command] : []), "--help"], dir);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe("");
    // Help is wrapped to the terminal width: compare with whitespace collapsed.
    expect(r.stdout.replace(/\s+/g, " ")).toMatch(pattern);
  });
});

describe("error classes of the CLI", () => {
  it("UsageError and StoreMissingError have codes of their own, keep their parent classes and their exit codes", async () => {
    const { exitCodeOf, StoreMissingError, UsageError } = await import("../src/errors.js");
    const { isPyrexisError, StoreFailureError, ValidationError } = await import("@pyrexis/models");
    const usage = new UsageError("bad flag");
    expect(usage).toBeInstanceOf(ValidationError);
    expect(usage.code).toBe("USAGE");
    expect(isPyrexisError(usage, "USAGE")).toBe(true);
    expect(exitCodeOf(usage)).toBe(2);
    const missing = new StoreMissingError("nowhere.db");
    expect(missing).toBeInstanceOf(StoreFailureError);
    expect(missing.code).toBe("STORE_MISSING");
    expect(exitCodeOf(missing)).toBe(1);
  });
});
