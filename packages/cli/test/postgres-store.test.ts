import { afterAll, describe, expect, it } from "vitest";
import pg from "pg";
import { tempDir } from "@pyrexis/test-utils";
import { HANDLERS, pyrexis } from "./helpers.js";

// Every command on a PostgreSQL store: `--store postgres://…?schema=…` (the schema is this
// file's own, dropped at the end). An unreachable server fails the test, never skips it.

const base = process.env.PYREXIS_PG_URL ?? process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
const schema = `pyx_cli_${Math.random().toString(36).slice(2, 10)}`;
const url = new URL(base);
url.searchParams.set("schema", schema);
const S = (): string[] => ["--store", url.toString()];
const tmp = tempDir("pyrexis-cli-pg-");

afterAll(async () => {
  tmp.remove();
  const client = new pg.Client({ connectionString: base });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await client.end();
});

describe("--store postgres://…", () => {
  it("submit, status, list, worker, metrics and cancel all work on the database", async () => {
    const submitted = await pyrexis(["submit", "echo", '{"text":"hi"}', ...S(), "--handlers", HANDLERS], tmp.dir);
    expect(submitted.code, submitted.stderr).toBe(0);
    const id = submitted.stdout.trim();
    const other = await pyrexis(["submit", "echo", '{"text":"later"}', ...S(), "--handlers", HANDLERS], tmp.dir);
    expect(other.code, other.stderr).toBe(0);
    const st = await pyrexis(["status", id, "--json", ...S()], tmp.dir);
    expect(st.code, st.stderr).toBe(0);
    expect(JSON.parse(st.stdout)).toMatchObject({ job: { id, status: "pending" }, result: null });
    const otherId = other.stdout.trim();
    const cancelled = await pyrexis(["cancel", otherId, ...S()], tmp.dir);
    expect(cancelled.code, cancelled.stderr).toBe(0);
    const worker = await pyrexis(["worker", ...S(), "--handlers", HANDLERS, "--exit-when-drained", "--quiet"], tmp.dir);
    expect(worker.code, worker.stderr).toBe(0);
    const done = await pyrexis(["status", id, "--json", ...S()], tmp.dir);
    expect(JSON.parse(done.stdout)).toMatchObject({
      job: { status: "completed" },
      result: { status: "completed", output: { echoed: { text: "hi" } } },
    });
    const list = await pyrexis(["list", "--json", ...S()], tmp.dir);
    expect(list.code, list.stderr).toBe(0);
    expect((JSON.parse(list.stdout) as { jobs: { id: string; status: string }[] }).jobs.map((j) => [j.id, j.status]).sort()).toEqual(
      [
        [id, "completed"],
        [otherId, "cancelled"],
      ].sort(),
    );
    const metrics = await pyrexis(["metrics", ...S()], tmp.dir);
    expect(metrics.code, metrics.stderr).toBe(0);
    expect(metrics.stdout).toContain("completed");
    const monitor = await pyrexis(["monitor", "--once", ...S()], tmp.dir);
    expect(monitor.code, monitor.stderr).toBe(0);
  });
});
