import { execFileSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { tempDir, type TempDir } from "../src/index.js";

describe("tempDir", () => {
  it("creates an empty directory under the OS temp dir, named by the prefix", () => {
    const tmp = tempDir("pyrexis-tu-");
    expect(existsSync(tmp.dir)).toBe(true);
    expect(tmp.dir.startsWith(tmpdir())).toBe(true);
    expect(tmp.dir).toMatch(/pyrexis-tu-[^/]+$/);
    expect(tmp.file("a", "b.db")).toBe(`${tmp.dir}/a/b.db`);
    expect(existsSync(tmp.file("a"))).toBe(false);
  });

  it("remove() deletes it with its contents and can be called again", () => {
    const tmp = tempDir();
    writeFileSync(tmp.file("x.json"), "{}");
    tmp.remove();
    expect(existsSync(tmp.dir)).toBe(false);
    expect(() => tmp.remove()).not.toThrow();
  });

  it("refuses a prefix with a path separator (it would escape the temp dir)", () => {
    expect(() => tempDir("../evil-")).toThrow(TypeError);
    expect(() => tempDir("a/b")).toThrow(/without slashes/);
  });
});

describe("tempDir made inside a test", () => {
  let made = "";
  it("exists while the test runs", () => {
    made = tempDir().dir;
    writeFileSync(`${made}/data`, "x");
    expect(existsSync(made)).toBe(true);
  });
  it("is gone once that test finished", () => {
    expect(made).not.toBe("");
    expect(existsSync(made)).toBe(false);
  });
});

describe("tempDir made in beforeEach", () => {
  let current: TempDir;
  const seen: string[] = [];
  beforeEach(() => {
    current = tempDir();
    seen.push(current.dir);
  });
  it("is there for the test", () => {
    expect(existsSync(current.dir)).toBe(true);
  });
  it("and removed after it (the previous test's is gone)", () => {
    expect(seen).toHaveLength(2);
    expect(existsSync(seen[0]!)).toBe(false);
    expect(existsSync(seen[1]!)).toBe(true);
  });
});

describe("tempDir made at file level", () => {
  const shared = tempDir();
  afterAll(() => shared.remove());
  it("outlives a test (removed by its owner)", () => {
    writeFileSync(shared.file("kept"), "1");
  });
  it("is still there in the next test", () => {
    expect(existsSync(shared.file("kept"))).toBe(true);
  });
});

describe("tempDir outside vitest", () => {
  it("is removed when the process exits, even if nobody called remove()", () => {
    const dist = new URL("../dist/index.js", import.meta.url).href;
    const script = `const { tempDir } = await import(${JSON.stringify(dist)}); const t = tempDir("pyrexis-exit-"); console.log(t.dir);`;
    const dir = execFileSync(process.execPath, ["--input-type=module", "-e", script], { encoding: "utf8" }).trim();
    expect(dir).toMatch(/pyrexis-exit-/);
    expect(existsSync(dir)).toBe(false);
  });
});
