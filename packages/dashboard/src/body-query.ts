// The body of POST /api/bulk: `{ action, filter, max?, dryRun? }`, where `filter` is the jobs
// list's query string (what the list page shows is what the action applies to).
import type { QueryJobsQuery } from "@pyrexis/storage";
import { HttpError } from "./errors.js";
import { parseJobsParams } from "./params.js";

/** A checked bulk request. */
export interface BulkRequest {
  readonly action: "cancel" | "retry";
  readonly filter: QueryJobsQuery;
  readonly max: number;
  readonly dryRun: boolean;
}

function bad(field: string, message: string): HttpError {
  return new HttpError("bad_request", `${field}: ${message}`, { param: field });
}

/** Checks a bulk body; throws {@link HttpError} `bad_request` naming the field. */
export function bodyQuery(body: unknown, limits: { readonly defaultMax: number; readonly maxMax: number }): BulkRequest {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw bad("body", "must be a JSON object");
  const b = body as Record<string, unknown>;
  for (const key of Object.keys(b)) if (!["action", "filter", "max", "dryRun"].includes(key)) throw bad(key, "unknown field");
  if (b.action !== "cancel" && b.action !== "retry") throw bad("action", 'must be "cancel" or "retry"');
  if (typeof b.filter !== "string" || b.filter.length > 8192)
    throw bad("filter", 'must be the jobs list\'s query string (e.g. "status=failed&handler=email")');
  const params = new URLSearchParams(b.filter.startsWith("?") ? b.filter.slice(1) : b.filter);
  params.delete("cursor");
  params.delete("limit");
  params.delete("order");
  const filter = parseJobsParams(params);
  const max = b.max ?? limits.defaultMax;
  if (typeof max !== "number" || !Number.isInteger(max) || max < 1 || max > limits.maxMax)
    throw bad("max", `must be an integer 1–${limits.maxMax}`);
  if (b.dryRun !== undefined && typeof b.dryRun !== "boolean") throw bad("dryRun", "must be a boolean");
  return { action: b.action, filter, max, dryRun: b.dryRun === true };
}
