// The access rules over real HTTP: loopback by default, the token for every mutation (and for
// reads when they are protected), CSRF and same-origin checks, no secret in URLs or logs.
import { describe, expect, it } from "vitest";
import { createDashboard } from "../src/index.js";
import { MemoryJobStore } from "@pyrexis/storage";
import { bearer, pending, request, start, TOKEN } from "./helpers.js";

async function withJob(options: Parameters<typeof start>[0] = {}) {
  const s = await start({ token: TOKEN, ...options });
  const job = pending();
  await s.store.commit({ insert: [job] });
  return { ...s, job, cancelPath: `/api/jobs/${encodeURIComponent(job.id)}/cancel` };
}

describe("binding", () => {
  it("binds 127.0.0.1 by default", async () => {
    const { url } = await start();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
  });

  it("refuses a non-loopback host without a token, and open reads there", () => {
    const store = new MemoryJobStore();
    expect(() => createDashboard({ store, host: "0.0.0.0" })).toThrow(/needs a token/);
    expect(() => createDashboard({ store, host: "0.0.0.0", token: TOKEN, readAccess: "open" })).toThrow(/readAccess "open"/);
    expect(() => createDashboard({ store, token: "short" })).toThrow(/at least 16/);
  });
});

describe("the token", () => {
  it("is required for a mutation: none → 401, a wrong one → 401, the right one → 200, and nothing changes before", async () => {
    const { url, origin, store, job, cancelPath } = await withJob();
    const none = await request(url, cancelPath, { method: "POST", headers: { origin }, body: {} });
    expect([none.status, none.json.error.code]).toEqual([401, "unauthorized"]);
    const wrong = await request(url, cancelPath, { method: "POST", headers: bearer(origin, "not-the-token-at-all"), body: {} });
    expect([wrong.status, wrong.json.error.code]).toEqual([401, "unauthorized"]);
    expect((await store.getJob(job.id))?.status).toBe("pending");
    const right = await request(url, cancelPath, { method: "POST", headers: bearer(origin), body: {} });
    expect(right.status).toBe(200);
    expect((await store.getJob(job.id))?.status).toBe("cancelled");
  });

  it("is never read from the URL", async () => {
    const { url, origin, store, job, cancelPath } = await withJob();
    const viaQuery = await request(url, `${cancelPath}?token=${TOKEN}`, { method: "POST", headers: { origin }, body: {} });
    expect(viaQuery.status).toBe(401);
    const list = await request(url, `/api/jobs?token=${TOKEN}`);
    expect([list.status, list.json.error.details.param]).toEqual([400, "token"]);
    expect((await store.getJob(job.id))?.status).toBe("pending");
  });

  it("is required for every read when reads are protected (as on a non-loopback host); the page shell holds no data", async () => {
    const { url } = await withJob({ readAccess: "token" });
    for (const path of ["/api/jobs", "/api/overview", "/api/series", "/metrics"]) {
      expect((await request(url, path)).status, path).toBe(401);
      expect((await request(url, path, { headers: { authorization: `Bearer ${TOKEN}` } })).status, path).toBe(200);
    }
    const shell = await request(url, "/");
    expect(shell.status).toBe(200);
    expect(shell.text).not.toContain(TOKEN);
  });

  it("with protected reads, sign-in still works and its cookie then opens the reads", async () => {
    const { url, origin } = await withJob({ readAccess: "token" });
    const login = await request(url, "/api/login", { method: "POST", headers: { origin }, body: { token: TOKEN } });
    expect(login.status).toBe(200);
    const cookie = String(login.headers["set-cookie"]).split(";")[0]!;
    expect((await request(url, "/api/jobs", { headers: { cookie } })).status).toBe(200);
    expect((await request(url, "/api/jobs", { headers: { cookie: "pyrexis_dashboard_session=forged" } })).status).toBe(401);
  });

  it("without a configured token the dashboard cannot change anything", async () => {
    const s = await start();
    const job = pending();
    await s.store.commit({ insert: [job] });
    const r = await request(s.url, `/api/jobs/${job.id}/cancel`, {
      method: "POST",
      headers: { origin: s.origin, authorization: `Bearer ${TOKEN}` },
      body: {},
    });
    expect(r.status).toBe(401);
    expect((await request(s.url, "/api/overview")).json.readOnly).toBe(true);
  });
});

describe("sign-in and the session cookie", () => {
  it("POST /api/login sets an HttpOnly SameSite=Strict cookie that is not the token; a wrong token gets 401", async () => {
    const { url, origin } = await withJob();
    const wrong = await request(url, "/api/login", { method: "POST", headers: { origin }, body: { token: "wrong-token-but-long-enough" } });
    expect(wrong.status).toBe(401);
    expect(wrong.headers["set-cookie"]).toBeUndefined();
    const ok = await request(url, "/api/login", { method: "POST", headers: { origin }, body: { token: TOKEN } });
    expect(ok.status).toBe(200);
    const cookie = String(ok.headers["set-cookie"]);
    expect(cookie).toMatch(/^pyrexis_dashboard_session=[\w-]+; HttpOnly; SameSite=Strict; Path=\/$/);
    expect(cookie).not.toContain(TOKEN);
  });

  it("a cookie-authenticated mutation needs the CSRF header and a same-origin Origin", async () => {
    const { url, origin, store, job, cancelPath } = await withJob();
    const login = await request(url, "/api/login", { method: "POST", headers: { origin }, body: { token: TOKEN } });
    const cookie = String(login.headers["set-cookie"]).split(";")[0]!;
    const noHeader = await request(url, cancelPath, { method: "POST", headers: { origin, cookie }, body: {} });
    expect([noHeader.status, noHeader.json.error.code]).toEqual([403, "forbidden"]);
    const crossSite = await request(url, cancelPath, {
      method: "POST",
      headers: { origin: "http://evil.example", cookie, "x-pyrexis-csrf": "1" },
      body: {},
    });
    expect(crossSite.status).toBe(403);
    const fetchSite = await request(url, cancelPath, {
      method: "POST",
      headers: { cookie, "x-pyrexis-csrf": "1", "sec-fetch-site": "cross-site" },
      body: {},
    });
    expect(fetchSite.status).toBe(403);
    expect((await store.getJob(job.id))?.status).toBe("pending");
    const ok = await request(url, cancelPath, { method: "POST", headers: { origin, cookie, "x-pyrexis-csrf": "1" }, body: {} });
    expect(ok.status).toBe(200);
  });

  it("even the bearer token does not let another origin mutate, nor sign in", async () => {
    const { url, store, job, cancelPath } = await withJob();
    const r = await request(url, cancelPath, { method: "POST", headers: bearer("http://evil.example"), body: {} });
    expect(r.status).toBe(403);
    const login = await request(url, "/api/login", { method: "POST", headers: { origin: "http://evil.example" }, body: { token: TOKEN } });
    expect(login.status).toBe(403);
    expect((await store.getJob(job.id))?.status).toBe("pending");
  });

  it("a Host the dashboard does not serve is refused (DNS rebinding), reads included", async () => {
    const { url, cancelPath } = await withJob();
    const port = new URL(url).port;
    const read = await request(url, "/api/jobs", { headers: { host: `evil.example:${port}` } });
    expect([read.status, read.json.error.code]).toEqual([403, "forbidden"]);
    const write = await request(url, cancelPath, {
      method: "POST",
      headers: { ...bearer(`http://evil.example:${port}`), host: `evil.example:${port}` },
      body: {},
    });
    expect(write.status).toBe(403);
    expect((await request(url, "/api/jobs", { headers: { host: `localhost:${port}` } })).status).toBe(200);
  });
});

describe("read-only mode", () => {
  it("refuses every action with 403 read_only and changes nothing", async () => {
    const { url, origin, store, job, cancelPath } = await withJob({ readOnly: true });
    for (const [path, body] of [
      [cancelPath, {}],
      [`/api/jobs/${job.id}/retry`, {}],
      ["/api/bulk", { action: "cancel", filter: "" }],
    ] as const) {
      const r = await request(url, path, { method: "POST", headers: bearer(origin), body });
      expect([r.status, r.json.error.code], path).toEqual([403, "read_only"]);
    }
    expect((await store.getJob(job.id))?.status).toBe("pending");
    expect((await request(url, "/api/overview")).json.readOnly).toBe(true);
  });
});

describe("what leaves the server", () => {
  it("logs name the route pattern and status only: no token, cookie, query string or id", async () => {
    const lines: string[] = [];
    const { url, origin, job, cancelPath } = await withJob({ log: (l) => lines.push(l) });
    const login = await request(url, "/api/login", { method: "POST", headers: { origin }, body: { token: TOKEN } });
    const cookie = String(login.headers["set-cookie"]).split(";")[0]!;
    await request(url, `/api/jobs?handler=secret-handler&status=pending`, { headers: { authorization: `Bearer ${TOKEN}` } });
    await request(url, cancelPath, { method: "POST", headers: { origin, cookie, "x-pyrexis-csrf": "1" }, body: {} });
    await request(url, cancelPath, { method: "POST", headers: bearer(origin, "a-wrong-token-for-the-log"), body: {} });
    expect(lines.length).toBeGreaterThanOrEqual(4);
    const all = lines.join("\n");
    for (const secret of [TOKEN, cookie.split("=")[1]!, "secret-handler", job.id, "a-wrong-token-for-the-log"])
      expect(all).not.toContain(secret);
    expect(all).toContain("POST /api/jobs/:id/cancel 200");
  });

  it("every answer carries the security headers; JSON is served as JSON, never as HTML", async () => {
    const { url } = await withJob();
    for (const path of ["/", "/api/jobs", "/api/nope", "/metrics"]) {
      const r = await request(url, path);
      expect(r.headers["x-content-type-options"], path).toBe("nosniff");
      expect(r.headers["x-frame-options"], path).toBe("DENY");
      expect(r.headers["content-security-policy"], path).toContain("script-src 'self'");
      expect(r.headers["content-security-policy"], path).toContain("frame-ancestors 'none'");
    }
    expect((await request(url, "/api/jobs")).headers["content-type"]).toBe("application/json; charset=utf-8");
  });

  it("refusals are counted in /metrics by reason", async () => {
    const { url, origin, cancelPath } = await withJob();
    await request(url, cancelPath, { method: "POST", headers: { origin }, body: {} });
    await request(url, cancelPath, { method: "POST", headers: bearer("http://evil.example"), body: {} });
    const text = (await request(url, "/metrics")).text;
    expect(text).toContain('pyrexis_dashboard_refused_total{reason="no_token"} 1');
    expect(text).toContain('pyrexis_dashboard_refused_total{reason="bad_origin"} 1');
  });
});
