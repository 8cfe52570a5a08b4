// Shared by the dashboard's tests: a dashboard on a real port, raw HTTP requests (node:http, so
// Host, Origin and Cookie are exactly what the test sets), and jobs to put in a store.
import { request as httpRequest } from "node:http";
import { afterEach } from "vitest";
import {
  createJob,
  createResult,
  parseJobSpec,
  serializeError,
  startAttempt,
  transition,
  type Job,
  type JobSpecInput,
} from "@pyrexis/models";
import { MemoryJobStore, type JobStore } from "@pyrexis/storage";
import { createDashboard, type Dashboard, type DashboardOptions } from "../src/index.js";

/** A token long enough for the dashboard. */
export const TOKEN = "test-token-0123456789abcdef";

const running: Dashboard[] = [];
afterEach(async () => {
  for (const d of running.splice(0)) await d.close();
});

/** A listening dashboard (closed after the test) and its base URL. */
export async function start(
  options: Partial<DashboardOptions> & { store?: JobStore } = {},
): Promise<{ dashboard: Dashboard; url: string; store: JobStore; origin: string; host: string }> {
  const store = options.store ?? new MemoryJobStore();
  const dashboard = createDashboard({ port: 0, ...options, store });
  running.push(dashboard);
  const url = await dashboard.listen();
  const u = new URL(url);
  return { dashboard, url, store, origin: u.origin, host: u.host };
}

/** An answer to {@link request}. */
export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The body parsed as JSON (undefined when it is not JSON); tests read its fields directly. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any JSON answer, asserted on field by field
  json: any;
}

/** One raw HTTP request. `body` is sent as is (a string) or as JSON (anything else). */
export function request(
  url: string,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
): Promise<Answer> {
  const target = new URL(path, url);
  const body = options.body === undefined ? undefined : typeof options.body === "string" ? options.body : JSON.stringify(options.body);
  const headers: Record<string, string> = { ...options.headers };
  if (body !== undefined && headers["content-type"] === undefined) headers["content-type"] = "application/json";
  return new Promise((resolve, reject) => {
    const req = httpRequest(target, { method: options.method ?? "GET", headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    req.on("error", reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** Headers of a same-origin browser mutation authenticated by the bearer token. */
export function bearer(origin: string, token = TOKEN): Record<string, string> {
  return { authorization: `Bearer ${token}`, origin };
}

let clock = 1_800_000_000_000;

/** A pending job (each later than the previous one). */
export function pending(spec: Partial<JobSpecInput> = {}): Job {
  return createJob(parseJobSpec({ handler: "work", payload: { n: clock }, ...spec }), clock++);
}

/** A failed job with its result, as an engine leaves it. */
export function failed(spec: Partial<JobSpecInput> = {}): { job: Job; insert: Job; results: ReturnType<typeof createResult>[] } {
  const base = pending(spec);
  const error = serializeError(new Error("the handler broke"));
  const job = transition(startAttempt(base, base.createdAt + 1), "failed", base.createdAt + 5, { lastError: error });
  const result = createResult({
    jobId: base.id,
    status: "failed",
    error,
    startedAt: base.createdAt + 1,
    endedAt: base.createdAt + 5,
    attempts: 1,
  });
  return { job, insert: job, results: [result] };
}

/** Puts failed jobs (with results) into `store`. */
export async function insertFailed(store: JobStore, count: number, spec: Partial<JobSpecInput> = {}): Promise<Job[]> {
  const jobs: Job[] = [];
  for (let i = 0; i < count; i++) {
    const f = failed(spec);
    await store.commit({ insert: [f.insert], results: f.results });
    jobs.push(f.job);
  }
  return jobs;
}
