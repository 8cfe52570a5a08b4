// Flow control from the command line: `worker --limit/--group-weight` and `submit --limit/--group`,
// their bad inputs (usage errors, exit 2, nothing written) and a worker honouring a cap.
import { writeFile } from "node:fs/promises";
import { describe, expect, it, afterAll } from "vitest";
import { tempDir, waitFor } from "@pyrexis/test-utils";
import { parseGroupWeightFlags, parseLimitFlags, parseUseFlags } from "../src/flow-flags.js";
import { UsageError } from "../src/errors.js";
import { finish, HANDLERS, killAll, runInProcess, start } from "./helpers.js";

const tmp = tempDir("pyrexis-cli-flow-flags-");
afterAll(() => {
  killAll();
  tmp.remove();
});
const run = (argv: string[], input?: string) => runInProcess(argv, { cwd: tmp.dir, ...(input !== undefined ? { input } : {}) });

interface Span {
  id: string;
  start: number;
  end: number;
}

/** The `stamp` jobs' run times (each completed, in one attempt: waiting for a cap counts none). */
async function stampSpans(ids: readonly string[], db: string): Promise<Span[]> {
  const spans: Span[] = [];
  for (const id of ids) {
    const st = await run(["status", id, "--json", "--store", db]);
    const { job, result } = JSON.parse(st.stdout) as {
      job: { attempts: number };
      result: { status: string; output: { start: number; end: number } };
    };
    expect(result.status, id).toBe("completed");
    expect(job.attempts, id).toBe(1);
    spans.push({ id, ...result.output });
  }
  return spans;
}

/** No two spans overlap: each starts after the one before it ended. */
function expectOneAtATime(spans: readonly Span[]): void {
  const sorted = [...spans].sort((x, y) => x.start - y.start);
  for (let i = 1; i < sorted.length; i++) {
    expect(sorted[i]!.start, `${sorted[i]!.id} started before ${sorted[i - 1]!.id} ended`).toBeGreaterThanOrEqual(sorted[i - 1]!.end);
  }
}

describe("flag parsers", () => {
  it("--limit reads rates, caps and both", () => {
    expect(parseLimitFlags(["openai=90000/1m,max=16", "gpu=max=4", "embed=500/10s"])).toEqual({
      openai: { rate: { units: 90_000, perMs: 60_000 }, maxConcurrent: 16 },
      gpu: { maxConcurrent: 4 },
      embed: { rate: { units: 500, perMs: 10_000 } },
    });
    expect(parseLimitFlags(undefined)).toBeUndefined();
  });

  it.each([
    ["openai", "no name"],
    ["=100/1m", "no name"],
    ["openai=100", "neither a rate nor a cap"],
    ["openai=100/1", "a window without a unit"],
    ["openai=0/1m", "zero units"],
    ["openai=-5/1m", "negative units"],
    ["openai=1.5/1m", "fractional units"],
    ["openai=max=0", "a zero cap"],
    ["openai=max=2,max=3", "two caps"],
    ["openai=100/1m,200/1m", "two rates"],
  ])("--limit %s is a usage error (%s)", (value) => {
    expect(() => parseLimitFlags([value])).toThrow(UsageError);
    expect(() => parseLimitFlags([value])).toThrow(/--limit/);
  });

  it("--limit with one name twice is a usage error", () => {
    expect(() => parseLimitFlags(["a=max=1", "a=max=2"])).toThrow(/given twice/);
  });

  it("--group-weight reads repeated flags and comma lists", () => {
    expect(parseGroupWeightFlags(["a=3,b=2", "c=1"])).toEqual({ a: 3, b: 2, c: 1 });
    for (const bad of ["a", "a=0", "a=x", "a=1,a=2", "=3"]) expect(() => parseGroupWeightFlags([bad]), bad).toThrow(UsageError);
  });

  it("submit --limit (or --use) reads key:units and key=units, one unit by default", () => {
    expect(parseUseFlags(["openai:1200,gpu", "embed=3"])).toEqual([
      { key: "openai", units: 1200 },
      { key: "gpu", units: 1 },
      { key: "embed", units: 3 },
    ]);
    for (const bad of ["openai=0", "openai:-1", "openai:x", "=3", ":3", ""]) expect(() => parseUseFlags([bad]), bad).toThrow(UsageError);
    expect(() => parseUseFlags(["openai:0"], "--use")).toThrow(/^--use: /);
  });
});

describe("submit --limit/--group and worker --limit/--group-weight", () => {
  it("submit writes the job's limits and group; bad values exit 2 and write nothing", async () => {
    const db = tmp.file("submit.db");
    const ok = await run([
      "submit",
      "echo",
      "null",
      "--limit",
      "openai:1200",
      "--use",
      "gpu",
      "--group",
      "tenant-a",
      "--json",
      "--store",
      db,
    ]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({
      limits: [
        { key: "openai", units: 1200 },
        { key: "gpu", units: 1 },
      ],
      group: "tenant-a",
    });
    for (const argv of [
      ["--use", "openai=0"],
      ["--limit", "openai:0"],
      ["--limit", ":5"],
      ["--group", ""],
      ["--group", "x".repeat(1000)],
    ]) {
      const bad = await run(["submit", "echo", "null", ...argv, "--store", db]);
      expect(bad.code, `${argv.join(" ")}: ${bad.stderr}`).toBe(2);
    }
    const jsonl = tmp.file("jobs.jsonl");
    await import("node:fs/promises").then((fs) => fs.writeFile(jsonl, '{"handler":"echo"}\n'));
    const clash = await run(["submit", "--file", jsonl, "--limit", "openai", "--store", db]);
    expect(clash.code).toBe(2);
    expect(clash.stderr).toMatch(/--limit cannot be combined with --file/);
    const list = await run(["list", "--json", "--store", db]);
    expect(JSON.parse(list.stdout).jobs).toHaveLength(1);
  });

  it("a worker with --limit gpu=max=1 never runs two jobs that use gpu at once", async () => {
    const db = tmp.file("cap.db");
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await run(["submit", "stamp", '{"ms":60}', "--use", "gpu", "--group", i % 2 ? "a" : "b", "--store", db]);
      expect(r.code, r.stderr).toBe(0);
      ids.push(r.stdout.trim());
    }
    const worker = await run([
      "worker",
      "--store",
      db,
      "--handlers",
      HANDLERS,
      "--limit",
      "gpu=max=1",
      "--group-weight",
      "a=2,b=1",
      "--exit-when-drained",
      "--quiet",
    ]);
    expect(worker.code, worker.stderr).toBe(0);
    expectOneAtATime(await stampSpans(ids, db));
  });

  it("two workers with --limit gpu=max=1 on one file share the cap: the second never runs a gpu job while the first holds it", async () => {
    const db = tmp.file("shared-cap.db");
    const go = tmp.file("shared-cap.go");
    // The first job holds the only gpu slot until the test says go: no time budget to meet.
    const first = await run([
      "submit",
      "untilFile",
      JSON.stringify({ path: go }),
      "--use",
      "gpu",
      "--priority",
      "9",
      "--id",
      "long",
      "--store",
      db,
    ]);
    expect(first.code, first.stderr).toBe(0);
    const ids = ["long"];
    for (let i = 0; i < 4; i++) {
      const r = await run(["submit", "stamp", '{"ms":40}', "--use", "gpu", "--id", `short-${i}`, "--store", db]);
      expect(r.code, r.stderr).toBe(0);
      ids.push(`short-${i}`);
    }
    const args = [
      "worker",
      "--store",
      db,
      "--handlers",
      HANDLERS,
      "--limit",
      "gpu=max=1",
      "--poll-ms",
      "5",
      "--exit-when-drained",
      "--verbose",
    ];
    const launch = (): { done: Promise<{ code: number | null; stderr: string }>; out: { text: string } } => {
      const child = start(args, tmp.dir);
      const out = { text: "" };
      const done = finish(child);
      child.stdout!.on("data", (d: string) => (out.text += d));
      return { done, out };
    };
    const a = launch();
    await waitFor("the first worker to start the long job", async () => a.out.text.includes("started   long"), { intervalMs: 20 });
    // The second worker starts and claims (every 5 ms) while the first holds the slot.
    const b = launch();
    await waitFor("the second worker to start", async () => b.out.text.includes("worker started"), { intervalMs: 20 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(b.out.text, "the second worker ran no gpu job while the slot was held").not.toMatch(/started {3}short-/);
    await writeFile(go, "");
    for (const w of [a, b]) {
      const r = await w.done;
      expect(r.code, r.stderr).toBe(0);
    }
    const spans = await stampSpans(ids, db);
    expectOneAtATime(spans);
  });

  it("worker --limit with a bad value exits 2 before it starts", async () => {
    const db = tmp.file("bad-worker.db");
    expect((await run(["submit", "echo", "--store", db])).code).toBe(0);
    const r = await run(["worker", "--store", db, "--handlers", HANDLERS, "--limit", "gpu=max=0", "--exit-when-drained"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--limit/);
  });
});
