import type { z } from "zod";
import { ValidationError, type ValidationIssue } from "./errors.js";
import { fastJobSpec } from "./spec-fast-path.js";
import { JobSchema, JobSpecSchema, ResultSchema, type Job, type JobSpec, type Result } from "./schemas.js";

function toIssues(error: z.ZodError): ValidationIssue[] {
  const out: ValidationIssue[] = [];
  for (const i of error.issues) {
    const path = i.path.map((p) => (typeof p === "number" ? p : String(p)));
    // zod reports unknown keys once, at the parent object; name each key so callers (and
    // `formatIssues`) point at the offending field like every other issue does.
    if (i.code === "unrecognized_keys") {
      for (const key of i.keys) out.push({ path: [...path, key], message: "unknown key" });
    } else {
      out.push({ path, message: i.message });
    }
  }
  return out;
}

/** Renders issues as `field: why; field: why`. */
export function formatIssues(issues: readonly ValidationIssue[]): string {
  return issues.map((i) => `${i.path.length ? i.path.join(".") : "(root)"}: ${i.message}`).join("; ");
}

/**
 * Parses `input` with `schema` or throws a {@link ValidationError} naming each wrong field.
 * `what` prefixes the message (e.g. `"job spec"`, `"job spec #3"`).
 */
export function parseWith<O, I>(schema: z.ZodType<O, I>, input: unknown, what: string): O {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const issues = toIssues(r.error);
  throw new ValidationError(`invalid ${what}: ${formatIssues(issues)}`, issues, { cause: r.error });
}

/**
 * Validates a submitted spec (a `JobSpecInput`, or anything untrusted) and fills in
 * defaults. Throws {@link ValidationError}.
 */
export function parseJobSpec(input: unknown, what = "job spec"): JobSpec {
  // The schema is the definition; the fast path accepts the common valid shapes without zod.
  return fastJobSpec(input) ?? parseWith(JobSpecSchema, input, what);
}

/** Validates a job record (e.g. one loaded from a store). Throws {@link ValidationError}. */
export function parseJob(input: unknown, what = "job record"): Job {
  return parseWith(JobSchema, input, what);
}

/** Validates a result record. Throws {@link ValidationError}. */
export function parseResult(input: unknown, what = "result"): Result {
  return parseWith(ResultSchema, input, what);
}
