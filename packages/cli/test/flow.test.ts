import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { tempDir, waitFor } from "@pyrexis/test-utils";
import { finish, HANDLERS, killAll, pyrexis, start } from "./helpers.js";

// One store for the whole file: the flow runs in order.
const tmp = tempDir("pyrexis-cli-flow-");
const dir = tmp.dir;
const db = tmp.file("jobs.db");
const S = (): string[] => ["--store", db];
// Checks run the bin (a process each): poll gently.
const POLL = { intervalMs: 100 };

afterAll(() => {
  killAll();
  tmp.remove();
});

async function status(
  id: string,
): Promise<{ job: { status: string; attempts: number }; result: { status: string; output?: unknown } | null }> {
  const r = await pyrexis(["status", id, "--json", ...S()], dir);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout);
}

describe("submit → status → list → worker → metrics → cancel", () => {
  const ids: Record<string, string> = {};

  it("submit creates the database and prints the job id", async () => {
    const r = await pyrexis(
      ["submit", "echo", '{"text":"hello"}', "--priority", "7", "--max-attempts", "2", ...S(), "--handlers", HANDLERS],
      dir,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe("");
    ids.echo = r.stdout.trim();
    expect(ids.echo).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("submit --file reads JSON Lines (blank lines skipped) and --file - reads stdin", async () => {
    const file = join(dir, "jobs.jsonl");
    await writeFile(
      file,
      '{"handler":"sum","payload":[1,2,3],"mode":"thread","id":"sum-1"}\n\n{"handler":"fail","maxAttempts":1,"mode":"process","id":"fail-1"}\n',
    );
    const r = await pyrexis(["submit", "--file", file, ...S(), "--handlers", HANDLERS], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split("\n")).toEqual(["sum-1", "fail-1"]);
    const s = await pyrexis(["submit", "--file", "-", "--json", ...S()], dir, {
      input: '{"handler":"slow","id":"to-cancel","delayMs":3600000}\n',
    });
    expect(s.code, s.stderr).toBe(0);
    expect(JSON.parse(s.stdout)).toMatchObject([{ id: "to-cancel", status: "pending" }]);
  });

  it("status shows the pending job, with --json and as text", async () => {
    const st = await status(ids.echo!);
    expect(st.job).toMatchObject({ status: "pending", attempts: 0 });
    expect(st.result).toBeNull();
    const text = await pyrexis(["status", ids.echo!, ...S()], dir);
    expect(text.stdout).toMatch(/status\s+pending/);
    expect(text.stdout).toMatch(/payload\s+\{"text":"hello"\}/);
  });

  it("list shows jobs newest first, filters by repeated or comma-separated --status", async () => {
    const all = JSON.parse((await pyrexis(["list", "--json", ...S()], dir)).stdout);
    expect(all.jobs.map((j: { id: string }) => j.id)).toEqual(["to-cancel", "sum-1", "fail-1", ids.echo]);
    const table = await pyrexis(["list", ...S()], dir);
    expect(table.stdout.split("\n")[0]).toMatch(/^ID\s+STATUS\s+HANDLER\s+MODE\s+PRI\s+ATTEMPTS\s+CREATED$/);
    const some = JSON.parse(
      (await pyrexis(["list", "--json", "--status", "completed,failed", "--status", "cancelled", ...S()], dir)).stdout,
    );
    expect(some.jobs).toEqual([]);
    const page = JSON.parse((await pyrexis(["list", "--json", "--limit", "1", ...S()], dir)).stdout);
    expect(page.jobs).toHaveLength(1);
    const next = JSON.parse((await pyrexis(["list", "--json", "--limit", "1", "--cursor", page.cursor, ...S()], dir)).stdout);
    expect(next.jobs[0].id).toBe("sum-1"); // same createdAt as fail-1: ties break by id, descending
  });

  it("cancel marks a pending job cancelled with a result; cancelling it again fails with exit 1", async () => {
    const r = await pyrexis(["cancel", "to-cancel", ...S()], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe("cancelled to-cancel\n");
    const st = await status("to-cancel");
    expect(st.job.status).toBe("cancelled");
    expect(st.result?.status).toBe("cancelled");
    const again = await pyrexis(["cancel", "to-cancel", ...S()], dir);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe("pyrexis: error: job to-cancel already finished (cancelled); there is nothing to cancel\n");
  });

  it("worker runs the jobs in all three modes and shuts down gracefully on SIGTERM", async () => {
    const worker = start(
      ["worker", ...S(), "--handlers", HANDLERS, "--concurrency", "async=4,thread=1,process=1", "--grace-ms", "2000"],
      dir,
    );
    const done = finish(worker);
    await waitFor("fail-1 to fail", async () => (await status("fail-1")).job.status === "failed", POLL);
    await waitFor("sum-1 to complete", async () => (await status("sum-1")).job.status === "completed", POLL);
    await waitFor("echo to complete", async () => (await status(ids.echo!)).job.status === "completed", POLL);
    worker.kill("SIGTERM");
    const r = await done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("SIGTERM received, shutting down gracefully");
    expect(r.stderr).toContain("pyrexis: shut down gracefully after SIGTERM");
    expect(r.stdout).toMatch(/^worker started: .*3 job\(s\) queued, concurrency async=4,thread=1,process=1$/m);
    expect(r.stdout).toMatch(/^completed sum-1 sum in /m);
    expect(r.stdout).toMatch(/^failed {4}fail-1 fail after 1 attempt\(s\): boom: this handler always fails$/m);
    expect(r.stdout).toMatch(/^summary: 2 completed, 1 failed, 0 cancelled, 0 retries in /m);
    expect((await status("sum-1")).result).toMatchObject({ status: "completed", output: 6 });
    expect((await status(ids.echo!)).result).toMatchObject({ status: "completed", output: { echoed: { text: "hello" } } });
  });

  it("metrics shows counts by status and timing percentiles; --prometheus renders text exposition", async () => {
    const r = await pyrexis(["metrics", ...S()], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^completed\s+2$/m);
    expect(r.stdout).toMatch(/^failed\s+1$/m);
    expect(r.stdout).toMatch(/^cancelled\s+1$/m);
    expect(r.stdout).toMatch(/^total\s+4$/m);
    expect(r.stdout).toContain("timings of the 3 most recent finished jobs");
    expect(r.stdout).toMatch(/^job\.queue_wait\s+3\s/m);
    const json = JSON.parse((await pyrexis(["metrics", "--json", "--limit", "2", ...S()], dir)).stdout);
    expect(json.sampled).toBe(2);
    expect(json.timings["job.turnaround"].count).toBe(2);
    const prom = await pyrexis(["metrics", "--prometheus", ...S()], dir);
    expect(prom.code).toBe(0);
    expect(prom.stdout).toContain("# TYPE pyrexis_jobs gauge\n");
    expect(prom.stdout).toContain('pyrexis_jobs{status="completed"} 2\n');
    expect(prom.stdout).toMatch(/^pyrexis_job_queue_wait_seconds\{quantile="0\.99"\} [\d.e-]+$/m);
    expect(prom.stdout).toMatch(/^pyrexis_job_queue_wait_seconds_count 3$/m);
    // Every non-comment line is `name{labels} value`.
    for (const line of prom.stdout
      .trim()
      .split("\n")
      .filter((l) => !l.startsWith("#"))) {
      expect(line).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? -?[\d.e+-]+$/);
    }
  });

  it("monitor --once prints one plain frame: depth by status, running, failures", async () => {
    const r = await pyrexis(["monitor", "--once", ...S()], dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain("\x1b");
    expect(r.stdout).toContain("created 0  waiting 0  pending 0  running 0  retrying 0  completed 2  failed 1  cancelled 1");
    expect(r.stdout).toContain("running (0, newest first):\n  (none)");
    expect(r.stdout).toMatch(/^ {2}fail-1\s+fail\s+boom: this handler always fails$/m);
  });
});

describe("worker and signals", () => {
  it("a second signal forces shutdown: the running job goes back to retrying, its attempt not counted", async () => {
    const sub = await pyrexis(["submit", "slow", '{"ms":60000}', "--id", "slow-1", ...S()], dir);
    expect(sub.code, sub.stderr).toBe(0);
    const worker = start(["worker", ...S(), "--handlers", HANDLERS, "--grace-ms", "60000", "-v"], dir);
    const done = finish(worker);
    let out = "";
    let err = "";
    worker.stdout?.on("data", (d: Buffer | string) => (out += d.toString()));
    worker.stderr?.on("data", (d: Buffer | string) => (err += d.toString()));
    await waitFor("slow-1 to start", async () => out.includes("started   slow-1"), POLL);
    worker.kill("SIGINT");
    // Two signals sent back to back can coalesce into one: wait for the first to be handled.
    await waitFor("the first signal to be handled", async () => err.includes("shutting down gracefully"), POLL);
    expect(worker.exitCode).toBeNull(); // still waiting out its 60 s grace period
    worker.kill("SIGINT");
    const r = await done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("SIGINT received again, forcing shutdown");
    const st = await status("slow-1");
    expect(st.job).toMatchObject({ status: "retrying", attempts: 0 });
    expect(st.result).toBeNull();
  });

  it("cancelling a job another process runs only marks it: the worker's later commit is rejected", async () => {
    const worker = start(["worker", ...S(), "--handlers", HANDLERS, "--grace-ms", "100", "-v"], dir);
    const done = finish(worker);
    await waitFor("slow-1 to run", async () => (await status("slow-1")).job.status === "running", POLL);
    const c = await pyrexis(["cancel", "slow-1", ...S()], dir);
    expect(c.code, c.stderr).toBe(0);
    expect(c.stderr).toContain("was running; a worker in another process keeps running it");
    worker.kill("SIGTERM");
    const r = await done;
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/pyrexis: warning: .*slow-1.*(version|stale|STALE)/i);
    const st = await status("slow-1");
    expect(st.job.status).toBe("cancelled");
    expect(st.result?.status).toBe("cancelled");
  });
});

describe("a running worker and another terminal", () => {
  it("a worker serves its metrics on --metrics-port", async () => {
    const own = ["--store", join(dir, "metrics-port.db")];
    expect((await pyrexis(["submit", "echo", "{}", "--id", "m-1", ...own], dir)).code).toBe(0);
    const worker = start(["worker", ...own, "--handlers", HANDLERS, "--metrics-port", "0", "--grace-ms", "2000"], dir);
    const done = finish(worker);
    let out = "";
    worker.stdout!.on("data", (d: string) => (out += d));
    await waitFor("the job to complete", async () => out.includes("completed m-1"), POLL);
    const url = /metrics on (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(out)?.[1];
    expect(url, out).toBeDefined();
    const text = await (await fetch(url!)).text();
    expect(text).toMatch(/^pyrexis_job_completed_total 1$/m);
    worker.kill("SIGTERM");
    expect((await done).code).toBe(0);
  });

  it("two workers on one file, jobs submitted from another terminal: each job runs exactly once", async () => {
    const own = ["--store", join(dir, "two-workers.db")];
    expect((await pyrexis(["submit", "echo", "{}", "--id", "early-1", ...own], dir)).code).toBe(0);
    const workers = [0, 1].map(() => start(["worker", ...own, "--handlers", HANDLERS, "--poll-ms", "5", "--grace-ms", "2000"], dir));
    const outputs = workers.map(() => ({ text: "" }));
    const done = workers.map((w, i) => {
      const result = finish(w);
      w.stdout!.on("data", (d: string) => (outputs[i]!.text += d));
      return result;
    });
    await waitFor("both workers to start", async () => outputs.every((o) => o.text.includes("worker started")), POLL);
    const lines = Array.from({ length: 40 }, (_, i) => JSON.stringify({ handler: "echo", id: `late-${i}`, payload: { i } })).join("\n");
    const sub = await pyrexis(["submit", "--file", "-", ...own], dir, { input: lines + "\n" });
    expect(sub.code, sub.stderr).toBe(0);
    await waitFor(
      "every job to complete",
      async () => {
        const all = outputs.map((o) => o.text).join("");
        return (
          Array.from({ length: 40 }, (_, i) => `completed late-${i} `).every((l) => all.includes(l)) && all.includes("completed early-1 ")
        );
      },
      POLL,
    );
    for (const w of workers) w.kill("SIGTERM");
    for (const d of done) expect((await d).code).toBe(0);
    const all = outputs.map((o) => o.text).join("");
    // One listing, not a `status` process per job: 40 CLI starts take longer than the test's
    // timeout on a loaded machine.
    const listed = await pyrexis(["list", "--json", "--limit", "100", ...own], dir);
    expect(listed.code, listed.stderr).toBe(0);
    const byId = new Map(
      (JSON.parse(listed.stdout) as { jobs: { id: string; status: string; attempts: number }[] }).jobs.map((j) => [j.id, j]),
    );
    for (let i = 0; i < 40; i++) {
      expect(all.split(`completed late-${i} `).length - 1, `late-${i} ran once`).toBe(1);
      expect(byId.get(`late-${i}`)).toMatchObject({ status: "completed", attempts: 1 });
    }
  });
});
