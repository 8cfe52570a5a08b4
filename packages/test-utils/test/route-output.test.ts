import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it, vi } from "vitest";

describe("route-output (loaded by this package's vitest config)", () => {
  afterEach(() => vi.restoreAllMocks());

  it("turns raw writes to process.stdout/stderr into console lines of the running test", () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    const error = vi.spyOn(console, "error").mockImplementation(() => {});
    process.stdout.write("one\ntwo\n");
    process.stderr.write(Buffer.from("native stack\n"));
    expect(log).toHaveBeenCalledWith("one\ntwo");
    expect(error).toHaveBeenCalledWith("native stack");
  });

  it("holds a partial line until its newline", () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    process.stdout.write("par");
    expect(log).not.toHaveBeenCalled();
    process.stdout.write("tial\nrest");
    expect(log).toHaveBeenCalledWith("partial");
    process.stdout.write("\n");
    expect(log).toHaveBeenLastCalledWith("rest");
  });

  it("calls a write callback, as a stream would", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    await new Promise<void>((resolve) => process.stderr.write("x\n", () => resolve()));
  });
});

describe("testConfig in a real vitest run", () => {
  it("prints what a failing test and its child processes wrote, and nothing of a passing test", async () => {
    const vitest = join(dirname(createRequire(import.meta.url).resolve("vitest/package.json")), "vitest.mjs");
    const root = fileURLToPath(new URL("./fixtures/output-project/", import.meta.url));
    const child = spawn(process.execPath, [vitest, "run", "--root", root], {
      cwd: root,
      env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (output += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (output += d));
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(code, output).toBe(1);
    expect(output).toContain("1 failed | 1 passed");
    expect(output).toContain("console of the failing test");
    expect(output).toContain("child stderr of the failing test");
    expect(output).toContain("raw stdout of the failing test, no newline");
    expect(output).not.toContain("of the passing test");
  }, 120_000);
});
