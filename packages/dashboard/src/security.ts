// Who may do what. The token is compared in constant time and never read from a URL; a browser
// presents it once to POST /api/login and then holds an HttpOnly, SameSite=Strict session cookie
// (an HMAC of the token, so nothing is kept on the server). Mutations also pass the CSRF checks:
// the Host must be one the dashboard serves (no DNS rebinding), a browser's Origin must be that
// same origin, and a cookie-authenticated request must carry the `x-pyrexis-csrf` header, which a
// cross-site form cannot send and a cross-site script cannot add without a CORS preflight that the
// dashboard never answers.
import { createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { HttpError } from "./errors.js";

/** Name of the session cookie set by `POST /api/login`. */
export const SESSION_COOKIE = "pyrexis_dashboard_session";
/** Header a cookie-authenticated mutation must carry (any non-empty value). */
export const CSRF_HEADER = "x-pyrexis-csrf";

/** Why a request was refused, as counted by `pyrexis_dashboard_refused_total`. */
export type RefusalReason = "no_token" | "bad_token" | "bad_host" | "bad_origin" | "no_csrf_header";

/** How a request proved it holds the token. */
export type Credential = "header" | "cookie" | undefined;

/** The security settings of one dashboard. */
export interface AccessPolicy {
  /** The access token; without one nothing can be mutated. */
  readonly token: string | undefined;
  /** Whether reads need the token too. */
  readonly reads: "open" | "token";
  /** `host[:port]` values the Host header may have; `undefined` skips the check (an embedding server decides). */
  readonly allowedHosts: ReadonlySet<string> | undefined;
}

/** A refusal with the reason it is counted under. */
export class AccessError extends HttpError {
  readonly reason: RefusalReason;
  constructor(reason: RefusalReason, status: "unauthorized" | "forbidden", message: string) {
    super(status, message);
    this.reason = reason;
  }
}

function digest(value: string): Buffer {
  return createHmac("sha256", "pyrexis-dashboard-compare").update(value).digest();
}

/** Constant-time equality of two strings (their lengths do not leak either: both are hashed first). */
export function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

/** The session cookie value of `token`: an HMAC of it, so the cookie is not the token itself. */
export function sessionValue(token: string): string {
  return createHmac("sha256", token).update("pyrexis-dashboard-session-v1").digest("base64url");
}

function cookie(req: IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie;
  if (header === undefined) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The credential `req` presents and whether it is valid for `policy`. */
export function credentialOf(req: IncomingMessage, policy: AccessPolicy): { credential: Credential; presented: boolean } {
  const token = policy.token;
  const auth = req.headers.authorization;
  const session = cookie(req, SESSION_COOKIE);
  const presented = auth !== undefined || session !== undefined;
  if (token === undefined) return { credential: undefined, presented };
  if (auth !== undefined) {
    const m = /^Bearer\s+(.+)$/i.exec(auth);
    return { credential: m !== null && sameSecret(m[1]!.trim(), token) ? "header" : undefined, presented };
  }
  if (session !== undefined) return { credential: sameSecret(session, sessionValue(token)) ? "cookie" : undefined, presented };
  return { credential: undefined, presented };
}

/** Refuses a Host header the dashboard does not serve (DNS rebinding), when hosts are known. */
export function checkHost(req: IncomingMessage, policy: AccessPolicy): void {
  if (policy.allowedHosts === undefined) return;
  const host = (req.headers.host ?? "").toLowerCase();
  if (!policy.allowedHosts.has(host))
    throw new AccessError("bad_host", "forbidden", "the Host header names a host this dashboard does not serve");
}

/** Refuses a mutation from another origin, or a cookie-authenticated one without the CSRF header. */
export function checkSameOrigin(req: IncomingMessage, credential: Credential): void {
  const origin = req.headers.origin;
  const host = req.headers.host;
  if (origin !== undefined) {
    let originHost: string | undefined;
    try {
      originHost = new URL(origin).host;
    } catch {
      originHost = undefined;
    }
    if (originHost === undefined || host === undefined || originHost.toLowerCase() !== host.toLowerCase()) {
      throw new AccessError("bad_origin", "forbidden", "cross-origin requests may not change anything");
    }
  } else {
    const site = req.headers["sec-fetch-site"];
    if (site !== undefined && site !== "same-origin" && site !== "none") {
      throw new AccessError("bad_origin", "forbidden", "cross-site requests may not change anything");
    }
  }
  if (credential === "cookie") {
    const csrf = req.headers[CSRF_HEADER];
    if (typeof csrf !== "string" || csrf.length === 0) {
      throw new AccessError("no_csrf_header", "forbidden", `a mutation with the session cookie must send the ${CSRF_HEADER} header`);
    }
  }
}

/** Throws unless `req` may read (`mutating: false`) or change (`mutating: true`) data. */
export function authorize(req: IncomingMessage, policy: AccessPolicy, mutating: boolean): Credential {
  checkHost(req, policy);
  const { credential, presented } = credentialOf(req, policy);
  // A wrong credential is refused wherever one is needed; on open reads it is ignored (a cookie
  // from before a token change must not lock a person out of looking).
  if (presented && credential === undefined && (mutating || policy.reads === "token")) {
    throw new AccessError("bad_token", "unauthorized", "the token or session is not valid");
  }
  if (mutating) {
    checkSameOrigin(req, credential);
    if (credential === undefined) throw new AccessError("no_token", "unauthorized", "this action needs the access token (sign in first)");
  } else if (policy.reads === "token" && credential === undefined) {
    throw new AccessError("no_token", "unauthorized", "this dashboard needs the access token for every request (sign in first)");
  }
  return credential;
}
