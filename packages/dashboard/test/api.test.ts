// The JSON API over a real SQLite file: filters and keyset pages, job detail, cancel and retry
// with their conflicts, bulk actions, and a clear 4xx (with nothing written) for every bad input.
import { describe, expect, it } from "vitest";
import { StaleVersionError, type Job } from "@pyrexis/models";
import { SqliteJobStore } from "@pyrexis/storage-sqlite";
import { MemoryJobStore, type CommitBatch, type JobStore } from "@pyrexis/storage";
import { tempDir } from "@pyrexis/test-utils";
import { bearer, insertFailed, pending, request, start, TOKEN } from "./helpers.js";

async function sqlite(): Promise<SqliteJobStore> {
  return SqliteJobStore.open({ path: tempDir("pyrexis-dashboard-api-").file("jobs.db") });
}

async function withStore<T>(fn: (store: SqliteJobStore) => Promise<T>): Promise<T> {
  const store = await sqlite();
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

async function allPages(url: string, query: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < 100; i++) {
    const r = await request(url, `/api/jobs?${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
    expect(r.status).toBe(200);
    ids.push(...r.json.jobs.map((j: Job) => j.id));
    cursor = r.json.cursor;
    if (cursor === undefined) return ids;
  }
  throw new Error("no last page");
}

describe("GET /api/jobs", () => {
  it("filters by status, handler, mode, priority and creation time, newest first, in pages without gaps", () =>
    withStore(async (store) => {
      const jobs: Job[] = [];
      for (let i = 0; i < 60; i++) {
        jobs.push(pending({ handler: i % 3 === 0 ? "email" : "resize", mode: i % 2 === 0 ? "async" : "thread", priority: i % 11 }));
      }
      await store.commit({ insert: jobs });
      await insertFailed(store, 5, { handler: "email" });
      const { url } = await start({ store });
      const newestFirst = (list: Job[]) => [...list].reverse().map((j) => j.id);
      expect(await allPages(url, "limit=7")).toHaveLength(65);
      expect(await allPages(url, "handler=email&status=pending&limit=4")).toEqual(newestFirst(jobs.filter((j) => j.handler === "email")));
      expect(await allPages(url, "mode=thread&minPriority=5&maxPriority=8&limit=3")).toEqual(
        newestFirst(jobs.filter((j) => j.mode === "thread" && j.priority >= 5 && j.priority <= 8)),
      );
      const from = jobs[10]!.createdAt;
      const to = new Date(jobs[20]!.createdAt).toISOString();
      expect(await allPages(url, `createdFrom=${from}&createdTo=${to}&order=asc`)).toEqual(jobs.slice(10, 20).map((j) => j.id));
      const failed = await request(url, "/api/jobs?status=failed,cancelled");
      expect(failed.json.jobs).toHaveLength(5);
      expect(failed.json.via).toBe("queryJobs");
      // The dead-letter view by cause: a plain Error has no code and matches by its name.
      expect((await request(url, "/api/jobs?status=failed&errorCode=Error")).json.jobs).toHaveLength(5);
      expect((await request(url, "/api/jobs?status=failed&errorCode=TIMEOUT,E_RATE")).json.jobs).toHaveLength(0);
      const overview = await request(url, "/api/overview");
      expect(overview.json.counts).toMatchObject({ pending: 60, failed: 5, running: 0 });
    }));

  it.each([
    ["status=sleeping", "status"],
    ["status=", "status"],
    ["limit=0", "limit"],
    ["limit=501", "limit"],
    ["limit=ten", "limit"],
    ["minPriority=11", "minPriority"],
    ["minPriority=5&maxPriority=4", "minPriority"],
    ["createdFrom=yesterday", "createdFrom"],
    ["createdTo=2026-13-45T99:00:00Z", "createdTo"],
    ["order=sideways", "order"],
    ["order=asc&order=desc", "order"],
    ["cursor=not-a-cursor", "query"],
    ["colour=red", "colour"],
  ])("%s → 400 bad_request naming %s", async (query, param) => {
    const { url } = await start();
    const r = await request(url, `/api/jobs?${query}`);
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe("bad_request");
    expect(r.json.error.details.param).toBe(param);
    expect(typeof r.json.error.message).toBe("string");
  });
});

describe("GET /api/jobs/:id", () => {
  it("shows the job, its result with the error and stack, and 404 / 400 for unknown and malformed ids", () =>
    withStore(async (store) => {
      const [job] = await insertFailed(store, 1);
      const slashed = pending({ id: "tenant/a b?c" });
      await store.commit({ insert: [slashed] });
      const { url } = await start({ store });
      const r = await request(url, `/api/jobs/${encodeURIComponent(job!.id)}`);
      expect(r.status).toBe(200);
      expect(r.json.job.lastError.message).toBe("the handler broke");
      expect(r.json.result.error.stack).toContain("the handler broke");
      expect(r.json).toMatchObject({ canCancel: false, canRetry: true, retryOf: null, retriedAs: null });
      expect((await request(url, `/api/jobs/${encodeURIComponent(slashed.id)}`)).json.job.id).toBe(slashed.id);
      expect((await request(url, "/api/jobs/nope")).json.error.code).toBe("not_found");
      const bad = await request(url, "/api/jobs/%E0%A4%A");
      expect([bad.status, bad.json.error.details.param]).toEqual([400, "id"]);
      expect((await request(url, "/api/jobs/%01x")).status).toBe(400);
      expect((await request(url, "/api/nothing")).status).toBe(404);
      const method = await request(url, "/api/jobs", { method: "DELETE" });
      expect([method.status, method.json.error.code]).toEqual([405, "method_not_allowed"]);
    }));
});

describe("actions", () => {
  it("cancel: a pending job becomes cancelled with a result; again → 409; bad bodies → 4xx and nothing written", () =>
    withStore(async (store) => {
      const job = pending();
      await store.commit({ insert: [job] });
      const { url, origin } = await start({ store, token: TOKEN });
      const path = `/api/jobs/${job.id}/cancel`;
      const badJson = await request(url, path, { method: "POST", headers: bearer(origin), body: "{nope" });
      expect([badJson.status, badJson.json.error.code]).toEqual([400, "bad_json"]);
      const badType = await request(url, path, {
        method: "POST",
        headers: { ...bearer(origin), "content-type": "text/plain" },
        body: "hi",
      });
      expect([badType.status, badType.json.error.code]).toEqual([415, "unsupported_media_type"]);
      const big = await request(url, path, { method: "POST", headers: bearer(origin), body: JSON.stringify({ x: "y".repeat(70_000) }) });
      expect([big.status, big.json?.error.code]).toEqual([413, "body_too_large"]);
      expect((await store.getJob(job.id))?.status).toBe("pending");
      const ok = await request(url, path, { method: "POST", headers: bearer(origin), body: {} });
      expect(ok.status).toBe(200);
      expect(ok.json).toMatchObject({ from: "pending", job: { status: "cancelled", version: 1 } });
      expect(await store.getResult(job.id)).toMatchObject({ status: "cancelled", error: { code: "CANCELLED" } });
      const again = await request(url, path, { method: "POST", headers: bearer(origin), body: {} });
      expect([again.status, again.json.error.code]).toEqual([409, "conflict"]);
      expect((await request(url, "/api/jobs/missing/cancel", { method: "POST", headers: bearer(origin), body: {} })).status).toBe(404);
    }));

  it("cancel retries its compare-and-set when a worker changed the job meanwhile", async () => {
    const store = await sqlite();
    const job = pending();
    await store.commit({ insert: [job] });
    let raced = false;
    // The first commit of the dashboard finds the job moved to running by "a worker".
    const racing: JobStore = {
      capabilities: store.capabilities,
      getJob: (id) => store.getJob(id),
      getResult: (id) => store.getResult(id),
      listJobs: (q) => store.listJobs(q),
      countByStatus: () => store.countByStatus(),
      close: () => store.close(),
      commit: async (batch: CommitBatch) => {
        if (!raced) {
          raced = true;
          const current = (await store.getJob(job.id))!;
          await store.commit({
            update: [
              { job: { ...current, status: "running", attempts: 1, version: current.version + 1 }, expectedVersion: current.version },
            ],
          });
          const stale = batch.update![0]!;
          throw new StaleVersionError(stale.job.id, stale.expectedVersion, current.version + 1);
        }
        return store.commit(batch);
      },
    };
    const { url, origin } = await start({ store: racing, token: TOKEN });
    const r = await request(url, `/api/jobs/${job.id}/cancel`, { method: "POST", headers: bearer(origin), body: {} });
    expect(r.status).toBe(200);
    expect(r.json.from).toBe("running");
    expect(await store.getJob(job.id)).toMatchObject({ status: "cancelled", version: 2 });
    await store.close();
  });

  it("cancel of a claimed running job: the holder's next lease renewal reports it cancelled, and its result is refused", async () => {
    // The helpers' jobs are created in 2027: the store's clock must be past their runAt.
    const store = new MemoryJobStore({ clock: { now: () => 1_900_000_000_000 } });
    const job = pending();
    await store.commit({ insert: [job] });
    const [claimed] = await store.claim({ owner: "engine-a", limit: 1, leaseMs: 60_000 });
    expect(claimed?.job.status).toBe("running");
    const { url, origin } = await start({ store, token: TOKEN });
    const r = await request(url, `/api/jobs/${job.id}/cancel`, { method: "POST", headers: bearer(origin), body: {} });
    expect([r.status, r.json.from]).toEqual([200, "running"]);
    const report = await store.renewLeases({
      owner: "engine-a",
      leaseMs: 60_000,
      leases: [{ jobId: job.id, version: claimed!.lease.version }],
    });
    expect(report).toMatchObject({ renewed: [], lost: [], cancelled: [job.id] });
    const late = { ...claimed!.job, status: "completed" as const, version: claimed!.job.version + 1 };
    await expect(store.commit({ update: [{ job: late, expectedVersion: claimed!.job.version }] })).rejects.toMatchObject({
      code: "STALE_VERSION",
    });
  });

  it("retry: a failed job gets a new pending job <id>.retry-1 with the same spec; twice → 409 naming it; its own retry is .retry-2", () =>
    withStore(async (store) => {
      const [job] = await insertFailed(store, 1, { handler: "email", payload: { to: "a@b" }, priority: 8, mode: "thread", maxAttempts: 4 });
      const { url, origin } = await start({ store, token: TOKEN });
      const first = await request(url, `/api/jobs/${job!.id}/retry`, { method: "POST", headers: bearer(origin), body: {} });
      expect(first.status).toBe(201);
      const retry = first.json.job as Job;
      expect(retry).toMatchObject({
        id: `${job!.id}.retry-1`,
        status: "pending",
        attempts: 0,
        handler: "email",
        payload: { to: "a@b" },
        priority: 8,
        mode: "thread",
        maxAttempts: 4,
      });
      const twice = await request(url, `/api/jobs/${job!.id}/retry`, { method: "POST", headers: bearer(origin), body: {} });
      expect([twice.status, twice.json.error.details.retriedAs]).toEqual([409, retry.id]);
      expect((await request(url, `/api/jobs/${retry.id}/retry`, { method: "POST", headers: bearer(origin), body: {} })).status).toBe(409);
      const detail = await request(url, `/api/jobs/${job!.id}`);
      expect(detail.json).toMatchObject({ retriedAs: retry.id, canRetry: false });
      expect((await request(url, `/api/jobs/${encodeURIComponent(retry.id)}`)).json.retryOf).toBe(job!.id);
      await request(url, `/api/jobs/${retry.id}/cancel`, { method: "POST", headers: bearer(origin), body: {} });
      const second = await request(url, `/api/jobs/${retry.id}/retry`, { method: "POST", headers: bearer(origin), body: {} });
      expect(second.json.job.id).toBe(`${job!.id}.retry-2`);
      expect((await request(url, `/api/jobs/${encodeURIComponent(second.json.job.id)}`)).json.retryOf).toBe(retry.id);
      // The old job and its result are untouched.
      expect((await store.getJob(job!.id))?.version).toBe(job!.version);
      expect((await store.getResult(job!.id))?.status).toBe("failed");
    }));

  it("bulk: a dry run counts, the real run acts on every eligible job of the filter, bad bodies → 400", () =>
    withStore(async (store) => {
      const failed = await insertFailed(store, 4, { handler: "email" });
      await insertFailed(store, 2, { handler: "resize" });
      const { url, origin } = await start({ store, token: TOKEN });
      const dry = await request(url, "/api/bulk", {
        method: "POST",
        headers: bearer(origin),
        body: { action: "retry", filter: "handler=email", dryRun: true },
      });
      expect(dry.json).toMatchObject({ eligible: 4, done: 0, dryRun: true });
      expect((await store.countByStatus()).pending).toBe(0);
      const run = await request(url, "/api/bulk", {
        method: "POST",
        headers: bearer(origin),
        body: { action: "retry", filter: "?handler=email&limit=1", max: 3 },
      });
      expect(run.json).toMatchObject({ eligible: 3, done: 3, failed: 0, truncated: true });
      expect((await store.getJob(`${failed[0]!.id}.retry-1`))?.status).toBe("pending");
      const cancel = await request(url, "/api/bulk", {
        method: "POST",
        headers: bearer(origin),
        body: { action: "cancel", filter: "status=pending" },
      });
      expect(cancel.json).toMatchObject({ eligible: 3, done: 3, skipped: 0 });
      for (const body of [
        { action: "delete", filter: "" },
        { action: "cancel" },
        { action: "cancel", filter: "status=nope" },
        { action: "cancel", filter: "", max: 0 },
        [1],
        { action: "cancel", filter: "", extra: 1 },
      ]) {
        const r = await request(url, "/api/bulk", { method: "POST", headers: bearer(origin), body });
        expect([r.status, r.json.error.code], JSON.stringify(body)).toEqual([400, "bad_request"]);
      }
    }));
});

describe("GET /api/overview", () => {
  it("requests close together share one countByStatus; a failed read is not kept", async () => {
    const inner = new MemoryJobStore();
    let reads = 0;
    let fail = false;
    const counting: JobStore = {
      capabilities: inner.capabilities,
      commit: (b) => inner.commit(b),
      getJob: (id) => inner.getJob(id),
      getResult: (id) => inner.getResult(id),
      listJobs: (q) => inner.listJobs(q),
      countByStatus: async () => {
        reads++;
        if (fail) throw new Error("the disk is gone");
        return inner.countByStatus();
      },
      close: () => inner.close(),
    };
    // A sample interval far away: only the overview reads counts during the test.
    let clock = 1_000_000;
    const { url } = await start({ store: counting, sampleIntervalMs: 3_600_000, now: () => clock });
    await request(url, "/api/series");
    const before = reads;
    const answers = await Promise.all([1, 2, 3, 4].map(() => request(url, "/api/overview")));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
    expect(reads - before).toBeLessThanOrEqual(1);
    expect((await request(url, "/api/overview")).status).toBe(200);
    expect(reads - before).toBeLessThanOrEqual(1);
    fail = true;
    clock += 501;
    const failed = await request(url, "/api/overview");
    expect([failed.status, failed.json.error.code]).toEqual([500, "store_failed"]);
    fail = false;
    expect((await request(url, "/api/overview")).status).toBe(200);
  });
});

describe("GET /api/series", () => {
  it("samples the counts on an interval", async () => {
    const { url, store } = await start({ sampleIntervalMs: 100 });
    await store.commit({ insert: [pending()] });
    const { waitFor } = await import("@pyrexis/test-utils");
    const samples = await waitFor("two samples with the job counted", async () => {
      const r = await request(url, "/api/series");
      const s = r.json.samples as { counts: { pending: number } }[];
      return s.length >= 2 && s.at(-1)!.counts.pending === 1 ? s : undefined;
    });
    expect(samples.at(-1)).toMatchObject({ counts: { pending: 1 }, throughput: 0 });
  });
});
