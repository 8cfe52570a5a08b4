// Small helpers over node:http: JSON and text answers with the dashboard's security headers, and
// a bounded JSON body reader that refuses instead of guessing.
import type { IncomingMessage, ServerResponse } from "node:http";
import { HttpError } from "./errors.js";

/** Largest request body the dashboard reads (bytes). */
export const MAX_BODY_BYTES: number = 64 * 1024;

/** Headers on every answer: no sniffing, no framing, no referrer, a strict content policy. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
});

function send(res: ServerResponse, status: number, type: string, body: string | Buffer, extra: Record<string, string> = {}): void {
  res.writeHead(status, { ...SECURITY_HEADERS, "content-type": type, "content-length": String(Buffer.byteLength(body)), ...extra });
  res.end(body);
}

/** Sends `value` as JSON (never cached). */
export function sendJson(res: ServerResponse, status: number, value: unknown, extra: Record<string, string> = {}): void {
  send(res, status, "application/json; charset=utf-8", JSON.stringify(value), { "cache-control": "no-store", ...extra });
}

/** Sends plain text (never cached). */
export function sendText(res: ServerResponse, status: number, text: string, type = "text/plain; charset=utf-8"): void {
  send(res, status, type, text, { "cache-control": "no-store" });
}

/** Sends a static file body. */
export function sendFile(res: ServerResponse, type: string, body: Buffer): void {
  send(res, 200, type, body, { "cache-control": "no-cache" });
}

/** Sends an {@link HttpError} as `{ error: { code, message, details? } }`. */
export function sendError(res: ServerResponse, error: HttpError): void {
  const body: Record<string, unknown> = { code: error.code, message: error.message };
  if (error.details !== undefined) body.details = error.details;
  sendJson(res, error.status, { error: body }, error.status === 405 ? { allow: "GET, POST" } : {});
}

/**
 * Reads a JSON body of at most {@link MAX_BODY_BYTES}: `415` unless it is `application/json`,
 * `413` when larger, `400 bad_json` when it does not parse. An empty body reads as `{}`.
 */
export async function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const type = (req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
  const declared = Number(req.headers["content-length"] ?? "0");
  if (declared > MAX_BODY_BYTES) throw new HttpError("body_too_large", `the body is larger than ${MAX_BODY_BYTES} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError("body_too_large", `the body is larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  if (size === 0) return {};
  if (type !== "application/json") throw new HttpError("unsupported_media_type", "send the body as application/json");
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8")) as unknown;
  } catch (e) {
    throw new HttpError("bad_json", `the body is not valid JSON: ${(e as Error).message}`);
  }
}
