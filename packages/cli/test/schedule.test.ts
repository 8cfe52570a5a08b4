// `pyrexis schedule add|list|remove`, in process (the same code the bin runs): schedules land in
// the store the workers read, bad input is a one-line error with the usage exit code and writes
// nothing, a conflicting redefinition is refused.
import { Readable } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { tempDir } from "@pyrexis/test-utils";
import { SqliteJobStore } from "@pyrexis/storage-sqlite";
import { runCli, type CliIo } from "../src/index.js";
import { HANDLERS } from "./helpers.js";

const tmp = tempDir("pyrexis-cli-schedule-");
afterAll(() => tmp.remove());

async function cli(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const io: CliIo = {
    stdout: { write: (s: string) => (stdout += s), isTTY: false },
    stderr: { write: (s: string) => (stderr += s) },
    stdin: Readable.from([]),
    env: {},
    cwd: tmp.dir,
  };
  const code = await runCli(argv, io);
  return { code, stdout, stderr };
}

async function storedNames(db: string): Promise<string[]> {
  const store = await SqliteJobStore.open({ path: db });
  try {
    return (await store.listSchedules()).map((s) => s.name);
  } finally {
    await store.close();
  }
}

describe("pyrexis schedule", () => {
  it("add, list, remove", async () => {
    const db = tmp.file("flow.db");
    const add = await cli([
      "schedule",
      "add",
      "nightly",
      "30 2 * * *",
      "echo",
      '{"corpus":"docs"}',
      "--timezone",
      "America/New_York",
      "--store",
      db,
      "--json",
    ]);
    expect(add.code, add.stderr).toBe(0);
    const added = JSON.parse(add.stdout) as { created: boolean; schedule: Record<string, unknown> };
    expect(added.created).toBe(true);
    expect(added.schedule).toMatchObject({
      name: "nightly",
      cron: "30 2 * * *",
      timezone: "America/New_York",
      catchUp: false,
      spec: { handler: "echo", payload: { corpus: "docs" } },
    });
    expect(typeof added.schedule.nextTickAt).toBe("number");
    const again = await cli([
      "schedule",
      "add",
      "nightly",
      "30 2 * * *",
      "echo",
      '{"corpus":"docs"}',
      "--timezone",
      "America/New_York",
      "--store",
      db,
    ]);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/^unchanged nightly, next tick 20\d\d-/);
    expect(
      (
        await cli([
          "schedule",
          "add",
          "every-5",
          "*/5 * * * *",
          "echo",
          "--catch-up",
          "--catch-up-limit",
          "3",
          "--priority",
          "9",
          "--store",
          db,
        ])
      ).code,
    ).toBe(0);
    const list = await cli(["schedule", "list", "--store", db]);
    expect(list.code).toBe(0);
    const lines = list.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^NAME\s+CRON\s+TIMEZONE\s+HANDLER\s+CATCH-UP\s+LAST TICK\s+NEXT TICK$/);
    expect(lines[1]).toMatch(/^every-5\s+\*\/5 \* \* \* \*\s+UTC\s+echo\s+on \(3\)\s+-\s+20\d\d-/);
    expect(lines[2]).toMatch(/^nightly\s+30 2 \* \* \*\s+America\/New_York\s+echo\s+off\s+-/);
    const json = JSON.parse((await cli(["schedule", "list", "--store", db, "--json"])).stdout) as {
      name: string;
      spec: { priority: number };
    }[];
    expect(json.map((s) => [s.name, s.spec.priority])).toEqual([
      ["every-5", 9],
      ["nightly", 5],
    ]);
    expect(await cli(["schedule", "remove", "nightly", "--store", db])).toMatchObject({ code: 0, stdout: "removed nightly\n" });
    const gone = await cli(["schedule", "remove", "nightly", "--store", db]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/^pyrexis: error: no schedule named "nightly"/);
    expect(await storedNames(db)).toEqual(["every-5"]);
  });

  it("a different definition under a taken name is refused (exit 1) and the stored one stays", async () => {
    const db = tmp.file("conflict.db");
    expect((await cli(["schedule", "add", "hourly", "0 * * * *", "echo", "--store", db])).code).toBe(0);
    const r = await cli(["schedule", "add", "hourly", "15 * * * *", "echo", "--store", db]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^pyrexis: error: schedule "hourly" exists with a different cron; remove it first/);
    expect(JSON.parse((await cli(["schedule", "list", "--json", "--store", db])).stdout)).toMatchObject([
      { name: "hourly", cron: "0 * * * *" },
    ]);
  });

  // [description, args after `schedule add`, message pattern]
  const BAD: [string, string[], RegExp][] = [
    ["invalid cron", ["a", "61 * * * *", "echo"], /invalid schedule cron "61 \* \* \* \*".*minute/],
    ["six fields (seconds)", ["a", "0 * * * * *", "echo"], /invalid schedule cron .*5 parts/],
    ["unknown timezone", ["a", "* * * * *", "echo", "--timezone", "Mars/Phobos"], /invalid schedule timezone "Mars\/Phobos"/],
    ["bad name", ["a b", "* * * * *", "echo"], /invalid schedule name "a b"/],
    ["bad payload", ["a", "* * * * *", "echo", "{"], /payload is not valid JSON/],
    ["unknown handler", ["a", "* * * * *", "nope", "--handlers", HANDLERS], /no handler named "nope"/],
    ["catch-up limit out of range", ["a", "* * * * *", "echo", "--catch-up-limit", "0"], /--catch-up-limit .*between 1 and 1000/],
  ];
  it.each(BAD)("%s: one-line error, exit 2, nothing written", async (_what, args, pattern) => {
    const db = tmp.file("bad.db");
    const r = await cli(["schedule", "add", ...args, "--store", db]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(pattern);
    const list = await cli(["schedule", "list", "--store", db]);
    expect(list.code === 1 || list.stdout === "no schedules\n", list.stdout + list.stderr).toBe(true);
  });
});
