import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "@pyrexis/test-utils";
import { parseStatuses } from "../src/commands/list.js";
import { parseConcurrency } from "../src/commands/worker.js";
import { formatTable } from "../src/format.js";
import { HANDLERS, runInProcess, type Captured, type InProcessOptions } from "./helpers.js";

// In-process runs of `runCli` (the same code the bin runs) for the many input-validation cases:
// spawning a process per case would make the suite slow on a 2-core machine.

/** An in-process run in this file's folder. */
const cli = (argv: string[], options: Omit<InProcessOptions, "cwd"> & { cwd?: string } = {}): Promise<Captured> =>
  runInProcess(argv, { cwd: dir, ...options });

const tmp = tempDir("pyrexis-cli-inproc-");
const dir = tmp.dir;
const db = tmp.file("jobs.db");

beforeAll(async () => {
  expect((await cli(["submit", "echo", "1", "--id", "known", "--store", db])).code).toBe(0);
});
afterAll(() => tmp.remove());

async function jobIds(): Promise<string[]> {
  const r = await cli(["list", "--json", "--limit", "100", "--store", db]);
  return (JSON.parse(r.stdout) as { jobs: { id: string }[] }).jobs.map((j) => j.id);
}

describe("input validation (in-process)", () => {
  const cases: [string, string[], number, RegExp, string?][] = [
    ["priority not an integer", ["submit", "echo", "--priority", "high"], 2, /--priority .*must be an integer, got "high"/],
    ["negative delay", ["submit", "echo", "--delay", "-5"], 2, /--delay .*must be >= 0/],
    ["max attempts 0", ["submit", "echo", "--max-attempts", "0"], 2, /--max-attempts .*between 1 and 1000/],
    ["empty id names the flag", ["submit", "echo", "--id", ""], 2, /invalid job: --id: must not be empty/],
    ["non-object payload is fine, non-JSON is not", ["submit", "echo", "hello"], 2, /payload is not valid JSON/],
    [
      "handlers module that does not exist",
      ["submit", "echo", "--handlers", "./missing.mjs"],
      2,
      /handlers module .*missing\.mjs failed to load/,
    ],
    ["duplicate id already in the store", ["submit", "echo", "--id", "known"], 1, /^pyrexis: error: job known already exists\n$/],
    ["invalid JSON on a line", ["submit", "--file", "-"], 2, /^pyrexis: error: line 2 is not valid JSON/, '{"handler":"echo"}\n{nope\n'],
    ["a line that is not an object", ["submit", "--file", "-"], 2, /line 1: expected a job spec object/, "[1,2]\n"],
    ["unknown mode on a line", ["submit", "--file", "-"], 2, /line 1: no executor for mode "gpu"/, '{"handler":"echo","mode":"gpu"}\n'],
    [
      "unknown handler on a line",
      ["submit", "--file", "-", "--handlers", HANDLERS],
      2,
      /line 2: no handler named "nope"/,
      '{"handler":"echo"}\n{"handler":"nope"}\n',
    ],
    [
      "unknown key on a line",
      ["submit", "--file", "-"],
      2,
      /invalid job spec on line 1: prio: unknown key/,
      '{"handler":"echo","prio":1}\n',
    ],
    [
      "duplicate ids inside the file",
      ["submit", "--file", "-"],
      2,
      /line 2: id: duplicate id "x" \(also line 1\)/,
      '{"handler":"echo","id":"x"}\n{"handler":"echo","id":"x"}\n',
    ],
    ["empty input", ["submit", "--file", "-"], 2, /--file stdin holds no job specs/, "\n\n"],
    ["missing file", ["submit", "--file", "nope.jsonl"], 2, /cannot read --file nope\.jsonl/],
    ["handler and --file together", ["submit", "echo", "--file", "-"], 2, /either <handler> \[payload\] or --file/, ""],
    [
      "per-job flag with --file",
      ["submit", "--file", "-", "--priority", "3"],
      2,
      /--priority cannot be combined with --file/,
      '{"handler":"echo"}\n',
    ],
    ["missing handler", ["submit"], 2, /missing <handler>/],
    ["unknown command", ["frobnicate"], 2, /unknown command 'frobnicate'/],
    ["missing argument", ["status"], 2, /missing required argument 'id'/],
    ["unknown status filter", ["list", "--status", "done"], 2, /--status: unknown status "done"/],
    ["bad --limit", ["list", "--limit", "0"], 2, /--limit .*between 1 and 10000/],
    ["bad --concurrency mode", ["worker", "--handlers", HANDLERS, "--concurrency", "gpu=3"], 2, /--concurrency: unknown mode "gpu"/],
    [
      "bad --concurrency value",
      ["worker", "--handlers", HANDLERS, "--concurrency", "async=0"],
      2,
      /--concurrency: async must be an integer >= 1/,
    ],
    ["worker without handlers", ["worker"], 2, /worker needs a handlers module/],
    ["in-memory store", ["list", "--store", "memory"], 2, /in-memory store does not outlive this command/],
  ];
  it.each(cases)("%s", async (_name, args, code, pattern, input) => {
    const r = await cli([...args, ...(args.includes("--store") ? [] : ["--store", db])], input === undefined ? {} : { input });
    expect(r.code, r.stderr).toBe(code);
    expect(r.stdout).toBe("");
    expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/^pyrexis: error: /);
    expect(r.stderr).toMatch(pattern);
  });

  it("nothing was written by any of them", async () => {
    expect(await jobIds()).toEqual(["known"]);
  });

  it("a valid JSON Lines batch is written all at once, ids printed in order", async () => {
    const r = await cli(["submit", "--file", "-", "--store", db], {
      input: '{"handler":"echo","id":"b1"}\r\n{"handler":"echo","id":"b2","priority":9}\n',
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("b1\nb2\n");
    expect(await jobIds()).toEqual(expect.arrayContaining(["b1", "b2", "known"]));
  });
});

describe("submit --if-exists return (safe to retry)", () => {
  it("prints the stored job for a known id and inserts only the new lines; retrying changes nothing", async () => {
    const db = tmp.file("if-exists.db");
    expect((await cli(["submit", "echo", "1", "--id", "known", "--store", db])).code).toBe(0);
    const jobIds = async (): Promise<string[]> =>
      (JSON.parse((await cli(["list", "--json", "--store", db])).stdout) as { jobs: { id: string }[] }).jobs.map((j) => j.id);
    const input = '{"handler":"echo","id":"known","payload":1}\n{"handler":"echo","id":"retry-1"}\n';
    for (let round = 0; round < 2; round++) {
      const r = await cli(["submit", "--file", "-", "--if-exists", "return", "--json", "--store", db], { input });
      expect(r.code, r.stderr).toBe(0);
      expect((JSON.parse(r.stdout) as { id: string; status: string }[]).map((j) => [j.id, j.status])).toEqual([
        ["known", "pending"],
        ["retry-1", "pending"],
      ]);
    }
    expect((await jobIds()).sort()).toEqual(["known", "retry-1"]);
    // Without the flag, the known id still refuses the whole file.
    const plain = await cli(["submit", "--file", "-", "--store", db], {
      input: '{"handler":"echo","id":"retry-2"}\n{"handler":"echo","id":"known"}\n',
    });
    expect(plain.code).toBe(1);
    expect(await jobIds()).not.toContain("retry-2");
  });
});

describe("submit --depends-on / dependsOn", () => {
  it("a dependent waits for its parent; unknown parents and cycles write nothing and exit 2 with the error", async () => {
    const db = tmp.file("deps.db");
    expect((await cli(["submit", "echo", "--id", "parent", "--store", db])).code).toBe(0);
    const child = await cli(["submit", "echo", "--id", "child", "--depends-on", "parent", "--json", "--store", db]);
    expect(child.code, child.stderr).toBe(0);
    expect(JSON.parse(child.stdout)).toMatchObject({ id: "child", status: "waiting", dependsOn: ["parent"] });
    const unknown = await cli(["submit", "echo", "--id", "orphan", "--depends-on", "parent,ghost", "--store", db]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/job orphan depends on job ghost, which does not exist/);
    const cycle = await cli(["submit", "--file", "-", "--store", db], {
      input: '{"handler":"echo","id":"x","dependsOn":["y"]}\n{"handler":"echo","id":"y","dependsOn":["x"]}\n',
    });
    expect(cycle.code).toBe(2);
    expect(cycle.stderr).toMatch(/cycle: (x → y → x|y → x → y)/);
    const empty = await cli(["submit", "echo", "--depends-on", "parent,", "--store", db]);
    expect(empty.code).toBe(2);
    const ids = (JSON.parse((await cli(["list", "--json", "--store", db])).stdout) as { jobs: { id: string }[] }).jobs.map((j) => j.id);
    expect(ids.sort()).toEqual(["child", "parent"]);
  });
});

describe("environment variables", () => {
  it("PYREXIS_STORE selects the store; --store wins over it; relative paths resolve against cwd", async () => {
    const r = await cli(["status", "known", "--json"], { env: { PYREXIS_STORE: "jobs.db" } });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).job.id).toBe("known");
    const wins = await cli(["status", "known", "--store", "other.db"], { env: { PYREXIS_STORE: db } });
    expect(wins.code).toBe(1);
    expect(wins.stderr).toBe(
      `pyrexis: error: no Pyrexis database at ${join(dir, "other.db")} (this command never creates one: submit a job first, or pass --store / PYREXIS_STORE)\n`,
    );
  });

  it("PYREXIS_HANDLERS validates handler names; --handlers wins", async () => {
    const r = await cli(["submit", "nope", "--store", db], { env: { PYREXIS_HANDLERS: HANDLERS } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/no handler named "nope"/);
    const wins = await cli(["submit", "nope", "--store", db, "--handlers", "./missing.mjs"], { env: { PYREXIS_HANDLERS: HANDLERS } });
    expect(wins.stderr).toMatch(/missing\.mjs failed to load/);
  });
});

describe("helpers", () => {
  it("parseConcurrency: defaults, pairs, one number for all, separate flags win", () => {
    expect(parseConcurrency(undefined)).toEqual({ async: 64, thread: 2, process: 2 });
    expect(parseConcurrency("thread=4")).toEqual({ async: 64, thread: 4, process: 2 });
    expect(parseConcurrency("3")).toEqual({ async: 3, thread: 3, process: 3 });
    expect(parseConcurrency("async=8, process=1", { process: 5 })).toEqual({ async: 8, thread: 2, process: 5 });
    expect(() => parseConcurrency("async")).toThrow(/expected mode=N pairs/);
    expect(() => parseConcurrency("async=1.5")).toThrow(/integer >= 1/);
  });

  it("parseStatuses: repeated and comma lists, deduplicated", () => {
    expect(parseStatuses(["failed,completed", "failed"])).toEqual(["failed", "completed"]);
    expect(parseStatuses(undefined)).toBeUndefined();
    expect(() => parseStatuses(["ok"])).toThrow(/unknown status "ok"/);
  });

  it("formatTable pads columns, right-aligns numbers and clips wide cells", () => {
    const t = formatTable(
      ["A", "N"],
      [
        ["x", 5],
        ["long value here", 12],
      ],
      { alignRight: [1], maxCellWidth: 8 },
    );
    expect(t).toBe("A          N\nx          5\nlong va…  12\n");
  });
});

describe("monitor --once in-process", () => {
  it("prints one frame without escape codes when stdout is not a TTY", async () => {
    const r = await cli(["monitor", "--once", "--store", db]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain("\x1b");
    expect(r.stdout).toMatch(/^queue depth by status:\ncreated 0 {2}waiting 0 {2}pending 3 /m);
  });
});
