// createDashboard: the options, the request handler (routes, access checks, errors, metrics) and
// the server around it. The handler is what `listen()` serves and what an application mounts in
// its own node:http server; both answer the same routes (see the README's API table).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { JobStatus } from "@pyrexis/models";
import { hasClaims, hasQueryJobs, type JobStore } from "@pyrexis/storage";
import { cancelJob, canCancel, canRetry, retriedFrom, retryIdOf, retryJob } from "./actions.js";
import { bulkAction, DEFAULT_BULK, MAX_BULK } from "./bulk.js";
import { HttpError } from "./errors.js";
import { readJsonBody, sendError, sendFile, sendJson, sendText } from "./http.js";
import { queryJobsPage } from "./job-query.js";
import { DashboardMetrics } from "./metrics.js";
import { parseJobsParams } from "./params.js";
import { CountSampler } from "./sampler.js";
import {
  AccessError,
  authorize,
  checkHost,
  checkSameOrigin,
  sameSecret,
  SESSION_COOKIE,
  sessionValue,
  type AccessPolicy,
  type Credential,
} from "./security.js";
import { defaultUiDir, loadStaticFiles, type StaticFile } from "./static-files.js";
import { bodyQuery } from "./body-query.js";

/** Options of {@link createDashboard}. Frozen on intake. */
export interface DashboardOptions {
  /** The store to show (any `JobStore`). The dashboard never closes it. */
  readonly store: JobStore;
  /** Refuse every action (403 `read_only`); the UI hides them. Default false. */
  readonly readOnly?: boolean | undefined;
  /**
   * The access token: needed for every action, and for every request when reads are protected.
   * Without one the dashboard cannot change anything. At least 16 characters.
   */
  readonly token?: string | undefined;
  /** Address `listen()` binds. Default `127.0.0.1`; any other needs a `token`. */
  readonly host?: string | undefined;
  /** Port `listen()` binds; 0 for any free one. Default 7300. */
  readonly port?: number | undefined;
  /**
   * Whether reads need the token: `"open"` or `"token"`. Default `"open"` on a loopback `host`,
   * `"token"` otherwise. Set `"token"` when you mount the handler in a server others can reach.
   */
  readonly readAccess?: "open" | "token" | undefined;
  /**
   * `host[:port]` values the Host header may have (DNS-rebinding protection). Default: the
   * loopback names with the bound port once `listen()` runs; none checked before (a mounted
   * handler: your server decides, and the Origin checks still apply).
   */
  readonly allowedHosts?: readonly string[] | undefined;
  /** Mark the session cookie `Secure` (serve over HTTPS). Default false. */
  readonly secureCookie?: boolean | undefined;
  /** How often the store's counts are sampled for the charts (ms, ≥ 100). Default 5000. */
  readonly sampleIntervalMs?: number | undefined;
  /** Samples kept (the chart's span is this × the interval). Default 720 (an hour at 5 s). */
  readonly sampleCapacity?: number | undefined;
  /** How often the UI polls for changes (ms, ≥ 100). Default 1000. */
  readonly pollIntervalMs?: number | undefined;
  /** The clock of actions and samples. Default `Date.now`. */
  readonly now?: (() => number) | undefined;
  /** One line per request (`METHOD route status ms`, never a query string, header or body), and errors. Default: nothing. */
  readonly log?: ((line: string) => void) | undefined;
  /** Where the built UI is. Default: the one shipped in the package. */
  readonly uiDir?: string | undefined;
}

/** A request handler for node:http (`createServer(handler)` or a route of your server). */
export type DashboardHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** A running (or ready) dashboard. */
export interface Dashboard {
  /** The handler to mount in your own server; `listen()` serves the same one. */
  readonly handler: DashboardHandler;
  /** Binds `host:port` and starts serving; resolves with the URL (no token in it). */
  listen(): Promise<string>;
  /** The URL once listening. */
  readonly url: string | undefined;
  /** Stops the server (if listening) and the sampler. Does not close the store. Idempotent. */
  close(): Promise<void>;
  /** The dashboard's own metrics (what GET /metrics adds to the store's counts). */
  readonly metrics: DashboardMetrics;
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);
/** Shortest token accepted. */
export const MIN_TOKEN_LENGTH = 16;
/** Default port of `listen()`. */
export const DEFAULT_PORT = 7300;
/**
 * Counts younger than this are reused: every open page polls the overview, and `countByStatus`
 * of a large SQLite store reads a whole index (about 80 ms at 1,000,000 jobs).
 */
export const COUNTS_MAX_AGE_MS = 500;

function checkMs(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 100 || value > 3_600_000) {
    throw new TypeError(`createDashboard: ${name} must be an integer 100–3600000 ms`);
  }
  return value;
}

/** A route: its pattern (what metrics and logs name), the handler, whether it mutates. */
interface Route {
  readonly pattern: string;
  readonly method: "GET" | "POST";
  readonly mutating: boolean;
  /** Served without the token (the page shell, which holds no data, and sign-in/out), Host still checked. */
  readonly public?: boolean;
  readonly run: (ctx: RequestContext) => Promise<void>;
}

interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  /** Decoded path parameters (the job id). */
  readonly id: string;
  readonly credential: Credential;
}

function decodeId(raw: string): string {
  let id: string;
  try {
    id = decodeURIComponent(raw);
  } catch {
    throw new HttpError("bad_request", "the job id in the path is not valid percent-encoding", { param: "id" });
  }
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  if (id.length === 0 || id.length > 256 || /[\u0000-\u001f\u007f]/.test(id)) {
    throw new HttpError("bad_request", "a job id is 1–256 characters without control characters", { param: "id" });
  }
  return id;
}

/**
 * Builds a dashboard over `options.store`: a JSON API, the web UI, and GET /metrics. Nothing
 * listens until {@link Dashboard.listen}; mount {@link Dashboard.handler} to serve it yourself.
 *
 * @example
 * ```ts
 * const dashboard = createDashboard({ store, token: process.env.PYREXIS_DASHBOARD_TOKEN });
 * console.log(`open ${await dashboard.listen()}`);
 * // …
 * await dashboard.close();
 * ```
 *
 * @throws TypeError for a bad option, a token shorter than 16 characters, or a non-loopback
 *   `host` without a token.
 */
export function createDashboard(options: DashboardOptions): Dashboard {
  if (typeof options !== "object" || options === null) throw new TypeError("createDashboard: options must be an object");
  const store = options.store;
  if (typeof store !== "object" || store === null || typeof store.listJobs !== "function" || typeof store.countByStatus !== "function") {
    throw new TypeError("createDashboard: store must be a JobStore");
  }
  const token = options.token;
  if (token !== undefined && (typeof token !== "string" || token.length < MIN_TOKEN_LENGTH)) {
    throw new TypeError(`createDashboard: token must be a string of at least ${MIN_TOKEN_LENGTH} characters`);
  }
  const host = options.host ?? "127.0.0.1";
  const loopback = LOOPBACK.has(host);
  if (!loopback && token === undefined) throw new TypeError(`createDashboard: binding ${host} (not loopback) needs a token`);
  const port = options.port ?? DEFAULT_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new TypeError("createDashboard: port must be an integer 0–65535");
  const readAccess = options.readAccess ?? (loopback ? "open" : "token");
  if (readAccess !== "open" && readAccess !== "token") throw new TypeError('createDashboard: readAccess must be "open" or "token"');
  if (readAccess === "open" && !loopback && options.readAccess !== undefined) {
    throw new TypeError(`createDashboard: readAccess "open" on ${host} would show every job to the network; use a token`);
  }
  const config = Object.freeze({
    readOnly: options.readOnly === true,
    secureCookie: options.secureCookie === true,
    sampleIntervalMs: checkMs(options.sampleIntervalMs, "sampleIntervalMs", 5000),
    pollIntervalMs: checkMs(options.pollIntervalMs, "pollIntervalMs", 1000),
    sampleCapacity: options.sampleCapacity ?? 720,
  });
  if (!Number.isInteger(config.sampleCapacity) || config.sampleCapacity < 2 || config.sampleCapacity > 100_000) {
    throw new TypeError("createDashboard: sampleCapacity must be an integer 2–100000");
  }
  const now = options.now ?? Date.now;
  const log = options.log;
  const policy: { -readonly [K in keyof AccessPolicy]: AccessPolicy[K] } = {
    token,
    reads: readAccess,
    allowedHosts: options.allowedHosts === undefined ? undefined : new Set(options.allowedHosts.map((h) => h.toLowerCase())),
  };
  const metrics = new DashboardMetrics();
  const sampler = new CountSampler(store, {
    intervalMs: config.sampleIntervalMs,
    capacity: config.sampleCapacity,
    now,
    onError: (e) => log?.(`sample of the store's counts failed: ${(e as Error).message}`),
  });
  let files: ReadonlyMap<string, StaticFile> | undefined;
  const uiDir = options.uiDir;
  const staticFile = (path: string): StaticFile | undefined => (files ??= loadStaticFiles(uiDir ?? defaultUiDir())).get(path);

  let counts: { readonly at: number; readonly value: Promise<Record<JobStatus, number>> } | undefined;
  /** The store's counts, shared by the requests of the last {@link COUNTS_MAX_AGE_MS} (a failure is not kept). */
  const readCounts = (): Promise<Record<JobStatus, number>> => {
    const at = now();
    if (counts === undefined || at - counts.at > COUNTS_MAX_AGE_MS) {
      const value = store.countByStatus();
      counts = { at, value };
      value.catch(() => {
        if (counts?.value === value) counts = undefined;
      });
    }
    return counts.value;
  };

  const mutationsAllowed = (): void => {
    if (config.readOnly) throw new HttpError("read_only", "this dashboard is read-only");
    if (token === undefined) throw new HttpError("read_only", "this dashboard has no access token, so it cannot change anything");
  };

  const routes: Route[] = [
    ...["/", "/app.js", "/app.css"].map((path): Route => ({
      pattern: path,
      method: "GET",
      mutating: false,
      // The page shell holds no data: it is served without the token, and asks for it.
      public: true,
      run: async ({ res }) => {
        const file = staticFile(path)!;
        sendFile(res, file.type, file.body);
      },
    })),
    {
      pattern: "/api/overview",
      method: "GET",
      mutating: false,
      run: async ({ res, credential }) => {
        sendJson(res, 200, {
          counts: await readCounts(),
          readOnly: config.readOnly || token === undefined,
          signedIn: credential !== undefined,
          readAccess,
          pollIntervalMs: config.pollIntervalMs,
          sampleIntervalMs: config.sampleIntervalMs,
          store: { queryJobs: hasQueryJobs(store), claims: hasClaims(store) },
        });
      },
    },
    {
      pattern: "/api/jobs",
      method: "GET",
      mutating: false,
      run: async ({ res, url }) => {
        const page = await queryJobsPage(store, parseJobsParams(url.searchParams));
        sendJson(res, 200, page);
      },
    },
    {
      pattern: "/api/series",
      method: "GET",
      mutating: false,
      run: async ({ res }) => sendJson(res, 200, { intervalMs: sampler.intervalMs, samples: sampler.samples() }),
    },
    {
      pattern: "/api/jobs/:id",
      method: "GET",
      mutating: false,
      run: async ({ res, id }) => {
        const job = await store.getJob(id);
        if (job === undefined) throw new HttpError("not_found", `no job ${id}`);
        const result = await store.getResult(id);
        const next = retryIdOf(id);
        const retried = next.length <= 256 ? await store.getJob(next) : undefined;
        sendJson(res, 200, {
          job,
          result: result ?? null,
          retryOf: retriedFrom(id) ?? null,
          retriedAs: retried === undefined ? null : retried.id,
          canCancel: canCancel(job),
          canRetry: canRetry(job) && retried === undefined,
        });
      },
    },
    {
      pattern: "/api/jobs/:id/cancel",
      method: "POST",
      mutating: true,
      run: async ({ req, res, id }) => {
        await readJsonBody(req);
        const outcome = await counted("cancel", () => cancelJob(store, id, now));
        sendJson(res, 200, outcome);
      },
    },
    {
      pattern: "/api/jobs/:id/retry",
      method: "POST",
      mutating: true,
      run: async ({ req, res, id }) => {
        await readJsonBody(req);
        const job = await counted("retry", () => retryJob(store, id, now));
        sendJson(res, 201, { job, retryOf: id });
      },
    },
    {
      pattern: "/api/bulk",
      method: "POST",
      mutating: true,
      run: async ({ req, res }) => {
        const body = await readJsonBody(req);
        const { action, filter, max, dryRun } = bodyQuery(body, { defaultMax: DEFAULT_BULK, maxMax: MAX_BULK });
        const report = await bulkAction(store, action, filter, { max, dryRun, now });
        if (!dryRun) for (let i = 0; i < report.done; i++) metrics.action(action, "done");
        sendJson(res, 200, report);
      },
    },
    {
      pattern: "/api/login",
      method: "POST",
      mutating: false,
      // Checks the token itself (and the origin): it is how a browser gets its session.
      public: true,
      run: async ({ req, res }) => {
        checkSameOrigin(req, undefined);
        const body = await readJsonBody(req);
        const given = (body as { token?: unknown }).token;
        if (typeof given !== "string" || given.length === 0 || given.length > 1024) {
          throw new HttpError("bad_request", "send { token: string }", { param: "token" });
        }
        if (token === undefined) throw new HttpError("read_only", "this dashboard has no access token to sign in with");
        if (!sameSecret(given, token)) throw new AccessError("bad_token", "unauthorized", "that is not the access token");
        const flags = `HttpOnly; SameSite=Strict; Path=/${config.secureCookie ? "; Secure" : ""}`;
        res.setHeader("set-cookie", `${SESSION_COOKIE}=${sessionValue(token)}; ${flags}`);
        sendJson(res, 200, { signedIn: true });
      },
    },
    {
      pattern: "/api/logout",
      method: "POST",
      mutating: false,
      public: true,
      run: async ({ req, res }) => {
        checkSameOrigin(req, undefined);
        res.setHeader("set-cookie", `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`);
        sendJson(res, 200, { signedIn: false });
      },
    },
    {
      pattern: "/metrics",
      method: "GET",
      mutating: false,
      run: async ({ res }) => sendText(res, 200, await metrics.exposition(store), "text/plain; version=0.0.4; charset=utf-8"),
    },
  ];

  /** Runs one job action, counting its outcome. */
  async function counted<T>(action: string, fn: () => Promise<T>): Promise<T> {
    try {
      const value = await fn();
      metrics.action(action, "done");
      return value;
    } catch (e) {
      metrics.action(action, e instanceof HttpError ? e.code : "error");
      throw e;
    }
  }

  /** The route of a path, with its id; a known path with another method is a 405. */
  function match(method: string, path: string): { route: Route; id: string } | HttpError {
    let pattern = path;
    let rawId = "";
    const m = /^\/api\/jobs\/([^/]+)(\/cancel|\/retry)?$/.exec(path);
    if (m !== null) {
      rawId = m[1]!;
      pattern = `/api/jobs/:id${m[2] ?? ""}`;
    }
    const candidates = routes.filter((r) => r.pattern === pattern);
    if (candidates.length === 0) return new HttpError("not_found", "no such route");
    const route = candidates.find((r) => r.method === method);
    if (route === undefined) return new HttpError("method_not_allowed", `${method} is not allowed here`);
    return { route, id: rawId === "" ? "" : decodeId(rawId) };
  }

  let started = false;
  const handler: DashboardHandler = (req, res) => {
    if (!started) {
      started = true;
      sampler.start();
    }
    const startedAt = performance.now();
    let routeName = "other";
    const finish = (): void => {
      const ms = performance.now() - startedAt;
      metrics.request(routeName, res.statusCode, ms);
      log?.(`${req.method ?? "?"} ${routeName} ${res.statusCode} ${ms.toFixed(1)}ms`);
    };
    res.once("finish", finish);
    void (async () => {
      try {
        const url = new URL(req.url ?? "/", "http://dashboard.invalid");
        const found = match(req.method ?? "GET", url.pathname);
        if (found instanceof HttpError) {
          checkHost(req, policy);
          throw found;
        }
        routeName = found.route.pattern;
        let credential: Credential;
        if (found.route.public === true) checkHost(req, policy);
        else credential = authorize(req, policy, found.route.mutating);
        if (found.route.mutating) mutationsAllowed();
        await found.route.run({ req, res, url, id: found.id, credential });
      } catch (e) {
        if (e instanceof AccessError) metrics.refused(e.reason);
        const error = e instanceof HttpError ? e : new HttpError("store_failed", `the store failed: ${(e as Error)?.message ?? String(e)}`);
        if (!(e instanceof HttpError)) log?.(`error on ${routeName}: ${(e as Error)?.stack ?? String(e)}`);
        if (res.headersSent) res.destroy();
        else {
          res.removeHeader("set-cookie");
          sendError(res, error);
        }
      }
    })();
  };

  let server: Server | undefined;
  let url: string | undefined;
  let closed = false;
  return {
    handler,
    metrics,
    get url() {
      return url;
    },
    async listen() {
      if (closed) throw new TypeError("createDashboard: this dashboard is closed");
      if (server !== undefined) return url!;
      const s = createServer(handler);
      server = s;
      await new Promise<void>((resolve, reject) => {
        s.once("error", reject);
        s.listen(port, host, () => {
          s.off("error", reject);
          resolve();
        });
      });
      const address = s.address() as AddressInfo;
      const shown = address.family === "IPv6" ? `[${address.address}]` : address.address;
      url = `http://${shown}:${address.port}/`;
      if (options.allowedHosts === undefined) {
        const names = loopback ? ["127.0.0.1", "localhost", "[::1]"] : [shown, host];
        policy.allowedHosts = new Set(names.map((n) => `${n}:${address.port}`.toLowerCase()));
      }
      return url;
    },
    async close() {
      if (closed) return;
      closed = true;
      await sampler.stop();
      const s = server;
      server = undefined;
      if (s !== undefined) {
        await new Promise<void>((resolve) => {
          s.close(() => resolve());
          s.closeAllConnections();
        });
      }
    },
  };
}
