import { describe, expect, it } from "vitest";

describe("the package entry", () => {
  it("exports what a user calls: runCli (CliIo is its type), nothing of the CLI's internals", async () => {
    const entry: Record<string, unknown> = await import("../src/index.js");
    expect(Object.keys(entry).sort()).toEqual(["runCli"]);
    expect(typeof entry.runCli).toBe("function");
  });
});
