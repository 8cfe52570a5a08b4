import { describe, expect, it } from "vitest";
import { ValidationError } from "@pyrexis/models";
import { serveMetrics } from "../src/index.js";
import { engineWith } from "./helpers.js";

describe("serveMetrics", () => {
  it("serves Prometheus text on /metrics, bound to 127.0.0.1, and closes with the engine", async () => {
    const engine = engineWith({ echo: (p) => p });
    await engine.submitJob({ handler: "echo" });
    await engine.runNext();
    const server = await serveMetrics(engine, { port: 0 });
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const res = await fetch(`${server.url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    expect(text).toMatch(/^pyrexis_job_completed_total 1$/m);
    expect(text).toMatch(/^pyrexis_job_submitted_total 1$/m);
    expect((await fetch(`${server.url}/other`)).status).toBe(404);
    expect((await fetch(`${server.url}/metrics`, { method: "POST" })).status).toBe(405);
    await engine.shutdown();
    await expect(fetch(`${server.url}/metrics`)).rejects.toThrow();
  });

  it("refuses a bad port with a ValidationError", async () => {
    const engine = engineWith({ echo: (p) => p });
    await expect(serveMetrics(engine, { port: 70_000 })).rejects.toBeInstanceOf(ValidationError);
    await engine.shutdown();
  });
});
