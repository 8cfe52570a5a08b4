import { existsSync } from "node:fs";
import { mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { tempDir } from "@pyrexis/test-utils";
import { pyrexis, type RunResult } from "./helpers.js";

// What is at the --store path is judged the same way by every command: a directory is refused
// with one message, a missing or empty file is "no database yet" (submit creates it, the read
// commands say so), and flags other tools use for the database point at --store.

const tmp = tempDir("pyrexis-cli-store-");
const dir = tmp.dir;
afterAll(() => tmp.remove());

function expectError(r: RunResult, code: number, message: string | RegExp): void {
  expect(r.stdout).toBe("");
  expect(r.stderr.trimEnd().split("\n"), r.stderr).toHaveLength(1);
  if (typeof message === "string") expect(r.stderr).toBe(`pyrexis: error: ${message}\n`);
  else expect(r.stderr).toMatch(message);
  expect(r.code).toBe(code);
}

const READS = ["list", "status x", "cancel x", "metrics", "monitor --once"];

describe("a directory as the store", () => {
  it.each(["submit echo", ...READS])("pyrexis %s names it a directory (exit 1), not a raw EISDIR", async (command) => {
    const store = join(dir, "a-directory");
    await mkdir(store, { recursive: true });
    const r = await pyrexis([...command.split(" "), "--store", store], dir);
    expectError(r, 1, `${store} is a directory, not a database file (give a file path, e.g. --store ${join(store, "pyrexis.db")})`);
    expect((await stat(store)).isDirectory()).toBe(true);
  });
});

describe("an empty file as the store", () => {
  it.each(READS)("pyrexis %s says there is no database yet (exit 1) and leaves the file empty", async (command) => {
    const store = join(dir, `empty-${command.replace(/\W+/g, "-")}.db`);
    await writeFile(store, "");
    const r = await pyrexis([...command.split(" "), "--store", store], dir);
    expectError(
      r,
      1,
      `${store} is an empty file, not a Pyrexis database yet (this command never creates one: submit a job first, or pass --store / PYREXIS_STORE)`,
    );
    expect((await readFile(store)).length).toBe(0);
  });

  it("submit creates the database in it, as in a missing file; the read commands then see the job", async () => {
    const store = join(dir, "empty-then-submit.db");
    await writeFile(store, "");
    const submitted = await pyrexis(["submit", "echo", "1", "--id", "one", "--store", store], dir);
    expect(submitted.stderr).toBe("");
    expect(submitted.stdout).toBe("one\n");
    const listed = await pyrexis(["list", "--json", "--store", store], dir);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout).jobs.map((j: { id: string }) => j.id)).toEqual(["one"]);
  });
});

describe("submit into a directory that does not exist", () => {
  it("is refused by name (exit 1) and creates nothing", async () => {
    const store = join(dir, "no-such-dir", "jobs.db");
    const r = await pyrexis(["submit", "echo", "--store", store], dir);
    expectError(r, 1, `cannot create a database at ${store}: the directory ${join(dir, "no-such-dir")} does not exist`);
    expect(existsSync(join(dir, "no-such-dir"))).toBe(false);
  });
});

describe("flags that name the database another way", () => {
  it.each(["--db", "--database", "--db=jobs.db", "--sqlite"])("%s suggests --store (exit 2)", async (flag) => {
    const r = await pyrexis(["list", ...(flag.includes("=") ? [flag] : [flag, "jobs.db"])], dir);
    expectError(r, 2, /^pyrexis: error: unknown option '--[\w=.-]+' \(Did you mean --store\?\)\n$/);
  });

  it("a near miss keeps commander's own suggestion, once", async () => {
    const r = await pyrexis(["list", "--stor", "jobs.db"], dir);
    expectError(r, 2, "unknown option '--stor' (Did you mean --store?)");
  });
});
