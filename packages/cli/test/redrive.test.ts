// pyrexis dead-letters and pyrexis redrive, in-process on a real SQLite file: failed jobs written
// as an engine leaves them (a failed record and its result), then listed and redriven.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createJob, createResult, parseJobSpec, serializeError, startAttempt, transition } from "@pyrexis/models";
import { SqliteJobStore } from "@pyrexis/storage-sqlite";
import { tempDir } from "@pyrexis/test-utils";
import { HANDLERS, pyrexis, runInProcess } from "./helpers.js";

const tmp = tempDir("pyrexis-cli-redrive-");
const db = tmp.file("jobs.db");
const cli = (argv: string[]) => runInProcess([...argv, "--store", db], { cwd: tmp.dir });

/** A failed job with its result: `code` on the error, or a plain error with a name only. */
function failed(id: string, handler: string, code: string | undefined, at: number) {
  const base = createJob(parseJobSpec({ id, handler, payload: { id }, maxAttempts: 1 }), at);
  const error = serializeError(Object.assign(new Error(`${id} broke`), code === undefined ? {} : { code }));
  const job = transition(startAttempt(base, at + 1), "failed", at + 2, { lastError: error });
  const result = createResult({ jobId: id, status: "failed", error, startedAt: at + 1, endedAt: at + 2, attempts: 1 });
  return { job, result };
}

beforeAll(async () => {
  const store = await SqliteJobStore.open({ path: db });
  const all = [
    failed("a", "embed", "E_RATE", 1000),
    failed("b", "embed", undefined, 2000),
    failed("c", "resize", "E_RATE", 3000),
    failed("d", "embed", "E_RATE", 4000),
  ];
  await store.commit({ insert: all.map((f) => f.job) });
  await store.commit({ results: all.map((f) => f.result) });
  await store.commit({ insert: [createJob(parseJobSpec({ id: "live", handler: "embed" }), 5000)] });
  await store.close();
});
afterAll(() => tmp.remove());

describe("pyrexis dead-letters", () => {
  it("lists failed jobs oldest first with their error; filters by handler and error code; --json", async () => {
    const table = await cli(["dead-letters"]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout.split("\n")[0]).toMatch(/^ID\s+HANDLER\s+ERROR\s+MESSAGE\s+ATTEMPTS\s+FAILED/);
    expect(table.stdout).toMatch(/^a\s+embed\s+E_RATE\s+a broke\s+1\/1/m);
    expect(table.stdout).toMatch(/^b\s+embed\s+Error\s+b broke/m);
    expect(table.stdout).not.toMatch(/^live/m);
    const ids = async (args: string[]): Promise<string[]> =>
      (JSON.parse((await cli(["dead-letters", "--json", ...args])).stdout) as { jobs: { id: string }[] }).jobs.map((j) => j.id);
    expect(await ids([])).toEqual(["a", "b", "c", "d"]);
    expect(await ids(["--error-code", "E_RATE", "--handler", "embed"])).toEqual(["a", "d"]);
    expect(await ids(["--error-code", "Error,E_RATE", "--handler", "resize"])).toEqual(["c"]);
  });
});

describe("pyrexis redrive", () => {
  it("bad input: exit 2 with one message, nothing written", async () => {
    const cases: [string[], RegExp][] = [
      [["redrive"], /missing <id> \(or filters/],
      [["redrive", "a", "--handler", "embed"], /either a job <id> or filters/],
      [["redrive", "--status", "completed"], /"completed" cannot be redriven/],
      [["redrive", "--handler", ""], /--handler: empty value/],
      [["redrive", "--all", "--max", "0"], /--max/],
    ];
    for (const [args, pattern] of cases) {
      const r = await cli(args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toMatch(pattern);
    }
    const r = await cli(["redrive", "live"]);
    expect([r.code, r.stderr]).toEqual([1, expect.stringMatching(/job live cannot be redriven: it is pending/)]);
    expect(JSON.parse((await cli(["list", "--json", "--limit", "100"])).stdout).jobs).toHaveLength(5);
  });

  it("redrives one job by id (twice: the same new job), then a filter with --dry-run, --max and a repeat", async () => {
    const one = await cli(["redrive", "a"]);
    expect([one.code, one.stdout]).toEqual([0, "a.retry-1\n"]);
    expect((await cli(["redrive", "a"])).stdout).toBe("a.retry-1\n");

    const dry = await cli(["redrive", "--error-code", "E_RATE", "--dry-run", "--json"]);
    expect(JSON.parse(dry.stdout)).toMatchObject({ dryRun: true, redriven: 2, alreadyRedriven: 1, ids: ["c.retry-1", "d.retry-1"] });
    const first = await cli(["redrive", "--error-code", "E_RATE", "--max", "1"]);
    expect(first.stdout).toBe(
      "redriven 1 of 3 matching jobs; 1 redriven before (skipped)\nc.retry-1\nstopped at --max 1: run again for more\n",
    );
    const rest = await cli(["redrive", "--all"]);
    expect(rest.stdout).toBe("redriven 2 of 4 matching jobs; 2 redriven before (skipped)\nb.retry-1\nd.retry-1\n");
    const list = JSON.parse((await cli(["list", "--json", "--status", "pending", "--limit", "100"])).stdout) as { jobs: { id: string }[] };
    expect(list.jobs.map((j) => j.id).sort()).toEqual(["a.retry-1", "b.retry-1", "c.retry-1", "d.retry-1", "live"]);
  });
});

describe("pyrexis worker --dead-letter", () => {
  it("routes a job that ends failed to the named handler, which runs it; an unknown handler is refused", async () => {
    const store = tmp.file("routed.db");
    const submit = await pyrexis(["submit", "fail", "{}", "--id", "f-1", "--max-attempts", "1", "--store", store], tmp.dir);
    expect(submit.code, submit.stderr).toBe(0);
    const worker = await pyrexis(
      ["worker", "--handlers", HANDLERS, "--dead-letter", "echo", "--exit-when-drained", "-q", "--store", store],
      tmp.dir,
    );
    expect(worker.code, worker.stderr).toBe(0);
    const routed = JSON.parse((await pyrexis(["status", "f-1.dead-letter", "--json", "--store", store], tmp.dir)).stdout) as {
      job: { status: string };
      result: { output: { echoed: { failedJob: { id: string }; error: { message: string } } } };
    };
    expect(routed.job.status).toBe("completed");
    expect(routed.result.output.echoed).toMatchObject({ failedJob: { id: "f-1" }, error: { message: "boom: this handler always fails" } });
    const unknown = await pyrexis(
      ["worker", "--handlers", HANDLERS, "--dead-letter", "nobody", "--exit-when-drained", "--store", store],
      tmp.dir,
    );
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/nobody/);
  });
});
