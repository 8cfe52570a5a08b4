// The dashboard in a real Chromium (Debian's, driven by playwright-core) on a real SQLite file
// while a real engine runs jobs on it: list and filter, open a job, watch it change, cancel a
// running job, retry a failed one, and a read-only dashboard that refuses actions. Every wait is
// for a condition (Playwright's auto-waiting), never for a time. A screenshot of each page goes
// to packages/dashboard/screenshots/ (git-ignored) for a person to look at.
import { existsSync, mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chromium, type Browser, type Page } from "playwright-core";
import { createEngine, NonRetryableError, type Engine } from "@pyrexis/engine";
import { SqliteJobStore } from "@pyrexis/storage-sqlite";
import { tempDir, waitFor, type TempDir } from "@pyrexis/test-utils";
import { createDashboard, type Dashboard } from "../src/index.js";
import { TOKEN } from "./helpers.js";

const CHROMIUM = process.env.PYREXIS_CHROMIUM ?? "/usr/bin/chromium";
/** expect.poll's bound on a hang (its default of 1 s would make it a timed assertion). */
const POLL = { timeout: 20_000, interval: 50 };
const SHOTS = fileURLToPath(new URL("../screenshots/", import.meta.url));

/** Gates the test opens: a handler waiting on `name` returns (or throws) when the test says. */
const gates = new Map<string, { open: (how: "pass" | "fail") => void; waiting: boolean }>();
function gate(name: string): Promise<"pass" | "fail"> {
  return new Promise((resolve) => gates.set(name, { open: resolve, waiting: true }));
}
function openGate(name: string, how: "pass" | "fail"): void {
  const g = gates.get(name);
  if (g === undefined) throw new Error(`no handler waits at gate ${name}`);
  gates.delete(name);
  g.open(how);
}

/** Gates whose handler attempt has returned. */
const ended = new Set<string>();

let tmp: TempDir;
let engine: Engine;
let store: SqliteJobStore;
let dashboard: Dashboard;
let readOnly: Dashboard;
let browser: Browser;
let url: string;
let readOnlyUrl: string;

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(`Chromium is not at ${CHROMIUM}: install Debian's chromium package (apt-get install chromium)`);
  mkdirSync(SHOTS, { recursive: true });
  tmp = tempDir("pyrexis-dashboard-browser-");
  const path = tmp.file("jobs.db");
  engine = await createEngine({
    store: path,
    rescanIntervalMs: 100,
    handlers: {
      quick: async (payload: unknown) => ({ echoed: payload }),
      // Waits for the test; a cancelled attempt (aborted) ends at once.
      gated: async (payload: { gate: string }, ctx) => {
        const how = await Promise.race([
          gate(`${payload.gate}:${ctx.attempt}`),
          new Promise<"fail">((r) => ctx.signal.addEventListener("abort", () => r("fail"))),
        ]);
        ended.add(`${payload.gate}:${ctx.attempt}`);
        if (how === "fail") throw new Error(`attempt ${ctx.attempt} failed at gate ${payload.gate}`);
        return { attempt: ctx.attempt };
      },
      // Fails on its first job; its retry (a new job, `.retry-1`) succeeds.
      firstFails: async (_payload: unknown, ctx) => {
        if (!ctx.jobId.includes(".retry-")) throw new NonRetryableError("the first run of this job always fails");
        return { retried: true };
      },
    },
  });
  void engine.runLoop();
  store = await SqliteJobStore.open({ path });
  dashboard = createDashboard({ store, token: TOKEN, port: 0, pollIntervalMs: 200, sampleIntervalMs: 200 });
  url = await dashboard.listen();
  readOnly = createDashboard({ store, token: TOKEN, readOnly: true, port: 0, pollIntervalMs: 200, sampleIntervalMs: 200 });
  readOnlyUrl = await readOnly.listen();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--no-first-run",
    ],
  });
});

afterAll(async () => {
  for (const name of [...gates.keys()]) openGate(name, "pass");
  await browser?.close();
  await dashboard?.close();
  await readOnly?.close();
  await engine?.shutdown({ graceMs: 5000 });
  await store?.close();
  tmp?.remove();
});

async function page(base = url): Promise<Page> {
  const p = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  p.on("pageerror", (e) => errors.push(e.message));
  p.on("console", (m) => {
    if (m.type() === "error" && !/status of 40[139]/.test(m.text())) errors.push(m.text());
  });
  (p as Page & { errors: string[] }).errors = errors;
  await p.goto(base);
  return p;
}

async function signIn(p: Page): Promise<void> {
  await p.getByLabel("Access token").fill(TOKEN);
  await p.getByRole("button", { name: "Sign in" }).click();
  await p.getByText("Signed in").waitFor();
}

async function shot(p: Page, name: string): Promise<void> {
  await p.screenshot({ path: `${SHOTS}${name}.png`, fullPage: true });
}

async function finished(id: string, status: string): Promise<void> {
  await waitFor(`job ${id} to be ${status}`, async () => (await store.getJob(id))?.status === status);
}

describe("in Chromium", () => {
  it("lists jobs with their counts and chart, and filters them by handler and status", async () => {
    const emails = await engine.submitJobs(
      Array.from({ length: 4 }, (_, i) => ({ handler: "quick", payload: { kind: "email", i }, priority: 7 })),
    );
    await engine.submitJobs(
      Array.from({ length: 3 }, (_, i) => ({ handler: "quick", payload: { kind: "resize", i }, mode: "async", priority: 2 })),
    );
    for (const j of emails) await finished(j.id, "completed");
    const p = await page();
    await p.locator(`tr[data-job-id="${emails[0]!.id}"]`).waitFor();
    await expect
      .poll(async () => Number(await p.getByTestId("count-completed").locator(".count-n").textContent()), POLL)
      .toBeGreaterThanOrEqual(7);
    await p.getByTestId("chart").locator("canvas").waitFor();
    await shot(p, "jobs-list");
    await p.getByLabel("Priority ≥").fill("5");
    await p.getByRole("checkbox", { name: "completed" }).check();
    await p.getByRole("button", { name: "Apply" }).click();
    await expect
      .poll(() => p.evaluate(() => (globalThis as unknown as { location: { hash: string } }).location.hash), POLL)
      .toContain("minPriority=5");
    await expect.poll(() => p.locator("table.jobs tbody tr").count(), POLL).toBe(4);
    const shown = await p.locator("table.jobs tbody tr").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-job-id")));
    expect(new Set(shown)).toEqual(new Set(emails.map((j) => j.id)));
    await shot(p, "jobs-filtered");
    expect((p as Page & { errors: string[] }).errors).toEqual([]);
    await p.close();
  });

  it("opens a job: its spec, its payload shown as text (never as HTML), its result", async () => {
    const hostile = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>';
    const job = await engine.submitJob({ handler: "quick", payload: { note: hostile } });
    await finished(job.id, "completed");
    const p = await page();
    await p.locator(`tr[data-job-id="${job.id}"] a`).click();
    await p.getByTestId("result").waitFor();
    await expect.poll(() => p.getByTestId("payload").textContent(), POLL).toContain(hostile.replace(/"/g, '\\"'));
    expect(await p.locator("main img").count()).toBe(0);
    expect(await p.evaluate(() => (globalThis as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(await p.getByTestId("live-status").textContent()).toBe("completed");
    await shot(p, "job-detail");
    await p.close();
  });

  it("watches a job change live: running, retrying after a failed attempt, running again, completed", async () => {
    const job = await engine.submitJob({
      handler: "gated",
      payload: { gate: "watch" },
      maxAttempts: 3,
      backoff: { baseMs: 50, maxMs: 100, jitter: 0 },
    });
    const p = await page(`${url}#/job/${encodeURIComponent(job.id)}`);
    await p.getByTestId("live-status").getByText("running").waitFor();
    expect(await p.getByTestId("live-attempts").textContent()).toBe("1");
    await shot(p, "job-live");
    await waitFor("attempt 1 to wait at its gate", () => gates.has("watch:1"));
    openGate("watch:1", "fail");
    await waitFor("attempt 2 to wait at its gate", () => gates.has("watch:2"));
    await p.getByTestId("live-attempts").getByText("2").waitFor();
    await p
      .getByTestId("changes")
      .getByText(/→ running, attempt 2\/3/)
      .waitFor();
    openGate("watch:2", "pass");
    await p.getByTestId("live-status").getByText("completed").waitFor();
    await p
      .getByTestId("error-block")
      .first()
      .getByText(/attempt 1 failed at gate watch/)
      .first()
      .waitFor();
    await shot(p, "job-live-completed");
    await p.close();
  });

  it("shows every failed attempt's error with its stack, oldest first", async () => {
    const job = await engine.submitJob({
      handler: "gated",
      payload: { gate: "history" },
      maxAttempts: 3,
      backoff: { baseMs: 20, maxMs: 40, jitter: 0 },
    });
    for (const attempt of [1, 2]) {
      await waitFor(`attempt ${attempt} to wait at its gate`, () => gates.has(`history:${attempt}`));
      openGate(`history:${attempt}`, "fail");
    }
    await waitFor("attempt 3 to wait at its gate", () => gates.has("history:3"));
    openGate("history:3", "pass");
    await finished(job.id, "completed");
    const p = await page(`${url}#/job/${encodeURIComponent(job.id)}`);
    await p.getByTestId("result").waitFor();
    const attempts = p.getByTestId("attempt-error");
    await expect.poll(() => attempts.count(), POLL).toBe(2);
    for (const [i, n] of [
      [0, 1],
      [1, 2],
    ] as const) {
      const block = attempts.nth(i);
      expect(await block.locator("h3").first().textContent()).toMatch(new RegExp(`^Attempt ${n}, `));
      expect(await block.textContent()).toContain(`attempt ${n} failed at gate history`);
      expect(await block.locator("pre.stack").first().textContent()).toMatch(/at /);
    }
    await shot(p, "job-attempt-errors");
    await p.close();
  });

  it("cancels a running job after confirmation, and it ends cancelled", async () => {
    const job = await engine.submitJob({ handler: "gated", payload: { gate: "cancel" }, maxAttempts: 1 });
    await waitFor("the job to run", () => gates.has("cancel:1"));
    const p = await page(`${url}#/job/${encodeURIComponent(job.id)}`);
    await p.getByTestId("live-status").getByText("running").waitFor();
    await signIn(p);
    await p.getByRole("button", { name: "Cancel job…" }).click();
    await p.getByRole("dialog").waitFor();
    await shot(p, "job-cancel-confirm");
    await p.getByTestId("confirm-yes").click();
    await p.getByTestId("live-status").getByText("cancelled").waitFor();
    await p
      .getByTestId("result")
      .getByText(/cancelled from the dashboard/)
      .first()
      .waitFor();
    expect((await store.getJob(job.id))?.status).toBe("cancelled");
    expect((await store.getResult(job.id))?.status).toBe("cancelled");
    await shot(p, "job-cancelled");
    // The engine's attempt ends now; its write is refused as stale, so the job stays cancelled.
    openGate("cancel:1", "pass");
    await waitFor("the attempt to end", () => ended.has("cancel:1"));
    expect((await store.getJob(job.id))?.status).toBe("cancelled");
    await p.close();
  });

  it("retries a failed job as a new job, which the engine then runs", async () => {
    const job = await engine.submitJob({ handler: "firstFails", payload: { order: 42 }, maxAttempts: 1 });
    await finished(job.id, "failed");
    const p = await page(`${url}#/job/${encodeURIComponent(job.id)}`);
    await signIn(p);
    await p
      .getByTestId("error-block")
      .first()
      .getByText(/always fails/)
      .first()
      .waitFor();
    await p.getByRole("button", { name: "Retry as a new job…" }).click();
    await p.getByTestId("confirm-yes").click();
    await p.getByTestId("retried-as").waitFor();
    expect(await p.getByTestId("retried-as").textContent()).toBe(`${job.id}.retry-1`);
    await p.getByTestId("retried-as").click();
    await p.getByText(`Retry of ${job.id}`).waitFor();
    await p.getByTestId("live-status").getByText("completed").waitFor();
    await shot(p, "job-retried");
    expect((await store.getJob(job.id))?.status).toBe("failed");
    await p.close();
  });

  it("a read-only dashboard shows no actions and refuses them", async () => {
    const job = await engine.submitJob({ handler: "firstFails", payload: { readOnly: true }, maxAttempts: 1 });
    await finished(job.id, "failed");
    const p = await page(`${readOnlyUrl}#/job/${encodeURIComponent(job.id)}`);
    await p.getByTestId("read-only").waitFor();
    await p.locator("header .read-only").waitFor();
    expect(await p.getByRole("button", { name: /Retry|Cancel/ }).count()).toBe(0);
    const answer = await p.evaluate(async (token) => {
      const res = await fetch("api/bulk", {
        method: "POST",
        headers: { "content-type": "application/json", "x-pyrexis-csrf": "1", authorization: `Bearer ${token}` },
        body: JSON.stringify({ action: "retry", filter: "status=failed" }),
      });
      return { status: res.status, body: (await res.json()) as { error: { code: string } } };
    }, TOKEN);
    expect([answer.status, answer.body.error.code]).toEqual([403, "read_only"]);
    expect(await store.getJob(`${job.id}.retry-1`)).toBeUndefined();
    await shot(p, "read-only");
    await p.close();
  });
  it("retries every failed job a filter matches, after a confirmation that counts them", async () => {
    const jobs = await engine.submitJobs(
      Array.from({ length: 3 }, (_, i) => ({ handler: "firstFails", payload: { bulk: i }, maxAttempts: 1 })),
    );
    for (const j of jobs) await finished(j.id, "failed");
    const failedNow = (await store.queryJobs({ status: "failed", handler: "firstFails", limit: 100 })).jobs.filter(
      (j) => !j.id.includes(".retry-"),
    );
    const unretried = [];
    for (const j of failedNow) if ((await store.getJob(`${j.id}.retry-1`)) === undefined) unretried.push(j.id);
    const p = await page(`${url}#/jobs?status=failed&handler=firstFails`);
    await signIn(p);
    await p.locator(`tr[data-job-id="${jobs[0]!.id}"]`).waitFor();
    await p.getByRole("button", { name: "Retry all matching…" }).click();
    await p.getByRole("dialog").getByText(`Retry ${failedNow.length} matching job(s)?`).waitFor();
    await shot(p, "bulk-confirm");
    await p.getByTestId("confirm-yes").click();
    // Jobs retried before (by the earlier test) conflict; the others are retried now.
    await p
      .getByTestId("bulk-note")
      .getByText(`retry: ${unretried.length} done, ${failedNow.length - unretried.length} failed`)
      .waitFor();
    for (const j of jobs) await finished(`${j.id}.retry-1`, "completed");
    await shot(p, "bulk-done");
    await p.close();
  });
});
