// The browser side of the JSON API: same-origin fetches with the session cookie, the CSRF
// header on every POST, and errors as thrown ApiErrors carrying the API's code and message.

/** A job as the API returns it. */
export interface Job {
  id: string;
  handler: string;
  payload: unknown;
  priority: number;
  mode: string;
  maxAttempts: number;
  backoff: { baseMs: number; maxMs: number; jitter: number };
  timeoutMs?: number;
  status: string;
  attempts: number;
  lastError?: SerializedError;
  createdAt: number;
  updatedAt: number;
  runAt: number;
  version: number;
  dependsOn?: string[];
  /** The errors of the last failed attempts, oldest first. */
  attemptErrors?: { attempt: number; at: number; error: SerializedError }[];
}

/** An error as the store keeps it. */
export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  stack?: string;
  cause?: SerializedError;
  [key: string]: unknown;
}

/** A job's result. */
export interface Result {
  jobId: string;
  status: string;
  output?: unknown;
  error?: SerializedError;
  startedAt: number;
  endedAt: number;
  durationMs: number;
  attempts: number;
}

export interface Overview {
  counts: Record<string, number>;
  readOnly: boolean;
  signedIn: boolean;
  readAccess: "open" | "token";
  pollIntervalMs: number;
  sampleIntervalMs: number;
  store: { queryJobs: boolean; claims: boolean };
}

export interface JobsPage {
  jobs: Job[];
  cursor?: string;
  partial?: boolean;
  via: string;
}

export interface JobDetail {
  job: Job;
  result: Result | null;
  retryOf: string | null;
  retriedAs: string | null;
  canCancel: boolean;
  canRetry: boolean;
}

export interface Sample {
  at: number;
  counts: Record<string, number>;
  throughput: number;
}

export interface BulkReport {
  action: string;
  dryRun: boolean;
  eligible: number;
  done: number;
  skipped: number;
  failed: number;
  truncated: boolean;
}

/** An API refusal. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function call<T>(method: "GET" | "POST", path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: "application/json" };
  if (method === "POST") {
    headers["content-type"] = "application/json";
    headers["x-pyrexis-csrf"] = "1";
  }
  const res = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: method === "POST" ? JSON.stringify(body ?? {}) : undefined,
  });
  const data = (await res.json().catch(() => ({}))) as { error?: { code: string; message: string } };
  if (!res.ok) throw new ApiError(res.status, data.error?.code ?? "unknown", data.error?.message ?? res.statusText);
  return data as T;
}

export const api = {
  overview: () => call<Overview>("GET", "api/overview"),
  jobs: (query: string) => call<JobsPage>("GET", `api/jobs${query ? `?${query}` : ""}`),
  job: (id: string) => call<JobDetail>("GET", `api/jobs/${encodeURIComponent(id)}`),
  series: () => call<{ intervalMs: number; samples: Sample[] }>("GET", "api/series"),
  cancel: (id: string) => call<{ job: Job }>("POST", `api/jobs/${encodeURIComponent(id)}/cancel`),
  retry: (id: string) => call<{ job: Job }>("POST", `api/jobs/${encodeURIComponent(id)}/retry`),
  bulk: (action: string, filter: string, dryRun: boolean) => call<BulkReport>("POST", "api/bulk", { action, filter, dryRun }),
  login: (token: string) => call<{ signedIn: boolean }>("POST", "api/login", { token }),
  logout: () => call<{ signedIn: boolean }>("POST", "api/logout"),
};
