// `pyrexis dashboard` as a user runs it: a real process on a real store, the URL and the token
// file's path on stdout (never the token), the API answering, actions with the token, SIGTERM
// stopping it cleanly and removing the token file it made.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { tempDir, waitFor } from "@pyrexis/test-utils";
import { cleanEnv, finish, killAll, pyrexis, start } from "./helpers.js";

afterAll(killAll);

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a JSON answer, asserted on field by field
async function json(url: string, init?: RequestInit): Promise<{ status: number; body: any }> {
  const res = await fetch(url, init);
  return { status: res.status, body: await res.json() };
}

describe("pyrexis dashboard", () => {
  it("serves the store on 127.0.0.1, prints where the token is (not the token), acts with it, and stops on SIGTERM", async () => {
    const tmp = tempDir("pyrexis-cli-dashboard-");
    const submitted = await pyrexis(["submit", "email", '{"to":"a@b"}', "--store", "jobs.db", "--json"], tmp.dir);
    expect(submitted.code).toBe(0);
    const job = JSON.parse(submitted.stdout);
    const child = start(["dashboard", "--store", "jobs.db", "--port", "0"], tmp.dir, cleanEnv());
    const done = finish(child);
    let out = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    const [, url, tokenFile] = await waitFor("the URL and the token file", () =>
      /on (http:\/\/127\.0\.0\.1:\d+\/)[^\n]*\naccess token: in (\S+)/.exec(out),
    );
    const token = readFileSync(tokenFile!, "utf8").trim();
    expect(out).not.toContain(token);
    const list = await json(`${url}api/jobs`);
    expect(list.body.jobs.map((j: { id: string }) => j.id)).toEqual([job.id]);
    const origin = url!.slice(0, -1);
    const refused = await json(`${url}api/jobs/${job.id}/cancel`, {
      method: "POST",
      headers: { origin, "content-type": "application/json" },
      body: "{}",
    });
    expect(refused.status).toBe(401);
    const cancelled = await json(`${url}api/jobs/${job.id}/cancel`, {
      method: "POST",
      headers: { origin, "content-type": "application/json", authorization: `Bearer ${token}` },
      body: "{}",
    });
    expect([cancelled.status, cancelled.body.job.status]).toEqual([200, "cancelled"]);
    expect(await fetch(`${url}metrics`).then((r) => r.text())).toContain('pyrexis_jobs{status="cancelled"} 1');
    child.kill("SIGTERM");
    const result = await done;
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("pyrexis dashboard stopped");
    expect(existsSync(tokenFile!)).toBe(false);
    const status = await pyrexis(["status", job.id, "--store", "jobs.db", "--json"], tmp.dir);
    expect(JSON.parse(status.stdout).job.status).toBe("cancelled");
  });

  it("reads --token-file, and refuses a short token and a missing store with a usage or store error", async () => {
    const tmp = tempDir("pyrexis-cli-dashboard-");
    writeFileSync(tmp.file("short"), "abc\n");
    await pyrexis(["submit", "email", "--store", "jobs.db"], tmp.dir);
    const short = await pyrexis(["dashboard", "--store", "jobs.db", "--port", "0", "--token-file", "short"], tmp.dir);
    expect(short.code).toBe(2);
    expect(short.stderr).toMatch(/--token-file short: the token must be one line of at least 16 characters/);
    const missing = await pyrexis(["dashboard", "--store", "nope.db", "--port", "0"], tmp.dir);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("nope.db");
    writeFileSync(tmp.file("token"), "a-token-from-a-file-0123\n");
    const child = start(["dashboard", "--store", "jobs.db", "--port", "0", "--token-file", "token", "--read-only"], tmp.dir, cleanEnv());
    const done = finish(child);
    let out = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    // Both lines: they are two writes, and the second may arrive after the first is read.
    const [, url] = await waitFor("the URL and the token line", () =>
      /on (http:\/\/127\.0\.0\.1:\d+\/)[^\n]*\naccess token: [^\n]*\n/.exec(out),
    );
    expect(out).toContain("read-only");
    expect(out).toContain(`access token: in ${tmp.file("token")}\n`);
    expect((await json(`${url}api/overview`)).body.readOnly).toBe(true);
    child.kill("SIGTERM");
    expect((await done).code).toBe(0);
    expect(existsSync(tmp.file("token"))).toBe(true);
  });
});
