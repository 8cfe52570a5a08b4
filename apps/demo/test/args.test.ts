import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ValidationError } from "@pyrexis/models";
import { parseDemoArgs, shownPath } from "../src/args.js";

describe("parseDemoArgs", () => {
  it("skips the `--` that pnpm passes through (pnpm demo -- --fresh), as the README and --help write it", () => {
    const args = parseDemoArgs(["--", "--fresh", "--size", "20"]);
    expect(args.fresh).toBe(true);
    expect(args.size).toBe(20);
    expect(parseDemoArgs(["--fresh"]).fresh).toBe(true);
  });

  it("still refuses what follows a `--` when it is not a flag of the demo, and a second `--`", () => {
    expect(() => parseDemoArgs(["--", "--frobnicate"])).toThrow(ValidationError);
    expect(() => parseDemoArgs(["--", "--", "--fresh"])).toThrow(/Unexpected argument '--'|Unexpected argument '--fresh'/);
  });
});

describe("shownPath", () => {
  it("prints a path inside the working directory relative to it, so hints work as typed and logs name no machine", () => {
    expect(shownPath(join("/repo", "apps", "demo", ".data", "demo.db"), "/repo")).toBe(join("apps", "demo", ".data", "demo.db"));
  });

  it("keeps a path outside the working directory absolute", () => {
    expect(shownPath("/elsewhere/demo.db", "/repo")).toBe("/elsewhere/demo.db");
    expect(shownPath("/repo", "/repo")).toBe("/repo");
  });
});
