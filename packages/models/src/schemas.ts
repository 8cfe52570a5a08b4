import { z } from "zod";
import { findJsonProblem, type JsonValue } from "./json.js";
import { TraceContextSchema, type TraceContext } from "./trace-context.js";

/** Every status a job can be in. */
export const JOB_STATUSES = ["created", "waiting", "pending", "running", "retrying", "completed", "failed", "cancelled"] as const;

/** The lifecycle status of a job. */
export type JobStatus = (typeof JOB_STATUSES)[number];

/** Zod schema of {@link JobStatus}. */
export const JobStatusSchema: z.ZodType<JobStatus> = z.enum(JOB_STATUSES);

/** Statuses a job never leaves. */
export const TERMINAL_STATUSES: readonly JobStatus[] = Object.freeze(["completed", "failed", "cancelled"] as const);

/** True for `completed`, `failed` and `cancelled`. */
export function isTerminal(status: JobStatus): boolean {
  return status === "completed" || status === "failed" || status === "cancelled";
}

/** The lowest job priority. */
export const MIN_PRIORITY = 0;
/** The highest job priority; higher runs first. */
export const MAX_PRIORITY = 10;
/** Priority of a spec that gives none. */
export const DEFAULT_PRIORITY = 5;
/** Attempt limit of a spec that gives none (the first run plus two retries). */
export const DEFAULT_MAX_ATTEMPTS = 3;
/** Most parents one job may depend on ({@link JobSpecInput.dependsOn}): a fan-in of ten thousand. */
export const MAX_DEPENDENCIES = 10_000;

/** A JSON value, checked by walking it (cycles, BigInt, functions, `undefined`… are rejected). */
export const JsonValueSchema: z.ZodType<JsonValue, JsonValue> = (z.custom<JsonValue>() as z.ZodType<JsonValue, JsonValue>).superRefine(
  (value, ctx) => {
    const problem = findJsonProblem(value);
    if (problem) ctx.addIssue({ code: "custom", message: problem.message, path: problem.path });
  },
);

const jobIdSchema = z
  .string()
  .min(1, "must not be empty")
  .max(256, "must be at most 256 characters")
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  .regex(/^[^\u0000-\u001f\u007f]+$/, "must not contain control characters");

/** Retry backoff: `delay = min(maxMs, baseMs · 2^attempts)`, reduced by up to `jitter` (0–1) at random. */
export interface Backoff {
  /** Base delay in ms; the first retry waits `2 · baseMs`. Default 1000. */
  baseMs: number;
  /** Upper bound of any delay in ms. Default 300000 (5 minutes). */
  maxMs: number;
  /** Fraction 0–1: each delay is drawn uniformly from `[delay · (1 − jitter), delay]`. Default 0. */
  jitter: number;
}

/** The default backoff: 2 s, 4 s, 8 s … capped at 5 minutes, no jitter. */
export const DEFAULT_BACKOFF: Readonly<Backoff> = Object.freeze({ baseMs: 1000, maxMs: 300_000, jitter: 0 });

const backoffFields = {
  baseMs: z.number().int().min(0).max(86_400_000),
  maxMs: z
    .number()
    .int()
    .min(0)
    .max(7 * 86_400_000),
  jitter: z.number().min(0).max(1),
};

/** Zod schema of a complete {@link Backoff}. */
export const BackoffSchema: z.ZodType<Backoff> = z.object(backoffFields).strict();

const epochMs = z.number().int().min(0);

/** Most limits one job may name. */
export const MAX_JOB_LIMITS = 8;
/** Largest weight (units) of one job on one limit. */
export const MAX_LIMIT_UNITS = 1_000_000_000;

/** One limit a job uses, as submitted: the engine limit's name and the job's weight on it (default 1). */
export interface JobLimitInput {
  /** Name of a limit configured on the engine (`limits` option). */
  key: string;
  /** Units the job reserves on the limit's rate (e.g. estimated tokens), a positive integer. Default 1. */
  units?: number | undefined;
}

/** One limit a job uses, with its weight filled in. */
export interface JobLimit {
  key: string;
  units: number;
}

const limitKeySchema = z
  .string()
  .min(1, "must not be empty")
  .max(128, "must be at most 128 characters")
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  .regex(/^[^\u0000-\u001f\u007f]+$/, "must not contain control characters");

const jobLimitFields = {
  key: limitKeySchema,
  units: z.number().int("must be an integer").min(1, "must be at least 1").max(MAX_LIMIT_UNITS),
};

const uniqueKeys = (limits: readonly { key: string }[]): boolean => new Set(limits.map((l) => l.key)).size === limits.length;

/** Zod schema of the `limits` of a spec: weights default to 1, each key at most once. */
const JobLimitsInputSchema = z
  .array(z.object({ key: jobLimitFields.key, units: jobLimitFields.units.default(1) }).strict())
  .min(1, "must name at least one limit (or leave limits out)")
  .max(MAX_JOB_LIMITS)
  .refine(uniqueKeys, "must not name a limit twice");

/** Zod schema of a stored job's `limits`. */
const JobLimitsSchema = z
  .array(z.object(jobLimitFields).strict())
  .min(1)
  .max(MAX_JOB_LIMITS)
  .refine(uniqueKeys, "must not name a limit twice");

/** A job's fair-sharing group (tenant): jobs of different groups share dispatch by the groups' weights. */
const groupSchema = limitKeySchema;

/** What a user submits. Everything but `handler` has a default. */
export interface JobSpecInput {
  /** Job id; generated (time-ordered UUIDv7) when absent. Unique: a duplicate is rejected. */
  id?: string | undefined;
  /** Name of a registered handler. */
  handler: string;
  /** JSON input of the handler. Default `null`. */
  payload?: JsonValue | undefined;
  /** 0–10, higher runs first. Default 5. */
  priority?: number | undefined;
  /** `"async" | "thread" | "process"` or a custom executor name. Default `"async"`. */
  mode?: string | undefined;
  /** Total runs including the first, ≥ 1. Default 3. */
  maxAttempts?: number | undefined;
  /** Retry delays; missing fields take {@link DEFAULT_BACKOFF}'s. */
  backoff?: Partial<Backoff> | undefined;
  /** Per-attempt time limit in ms; an attempt over it fails with a timeout error. */
  timeoutMs?: number | undefined;
  /** Earliest start: epoch ms, a Date or an ISO-8601 string. Not with `delayMs`. */
  runAt?: number | Date | string | undefined;
  /** Earliest start as a delay from submission. Not with `runAt`. */
  delayMs?: number | undefined;
  /**
   * Ids of jobs that must complete before this one runs (at most {@link MAX_DEPENDENCIES},
   * no repeats, not the job's own id). Each must exist in the store or be submitted in the same
   * batch; the job waits in status `waiting` until every one is `completed`. A parent that ends
   * `failed` fails this job, one that ends `cancelled` cancels it (with a `DependencyFailedError`
   * naming the parent), and so on down the graph. Needs a store with the `dependencies`
   * capability. An empty array means none.
   */
  dependsOn?: readonly string[] | undefined;
  /**
   * The engine limits this job uses and its weight on each (`[{ key: "openai", units: 1200 }]`):
   * it starts only when every one has room, and waits (never fails) until then.
   */
  limits?: readonly JobLimitInput[] | undefined;
  /** Fair-sharing group (tenant): groups share dispatch by weight, so one group's flood cannot starve another. */
  group?: string | undefined;
}

/** A validated spec with defaults filled in (`runAt` normalized to epoch ms). */
export interface JobSpec {
  id?: string | undefined;
  handler: string;
  payload: JsonValue;
  priority: number;
  mode: string;
  maxAttempts: number;
  backoff: Backoff;
  timeoutMs?: number | undefined;
  runAt?: number | undefined;
  delayMs?: number | undefined;
  /** Present only when non-empty. */
  dependsOn?: string[] | undefined;
  limits?: JobLimit[] | undefined;
  group?: string | undefined;
}

/** Zod schema that turns a {@link JobSpecInput} into a {@link JobSpec}. Unknown keys are rejected. */
export const JobSpecSchema: z.ZodType<JobSpec, JobSpecInput> = z
  .object({
    id: jobIdSchema.optional(),
    handler: z.string().min(1, "must not be empty").max(256),
    payload: JsonValueSchema.optional().transform((p) => (p === undefined ? null : p)),
    priority: z.number().int().min(MIN_PRIORITY).max(MAX_PRIORITY).default(DEFAULT_PRIORITY),
    mode: z.string().min(1, "must not be empty").max(64).default("async"),
    maxAttempts: z.number().int().min(1).max(1000).default(DEFAULT_MAX_ATTEMPTS),
    backoff: z
      .object(backoffFields)
      .partial()
      .strict()
      .optional()
      // An explicit `undefined` field means "not given": it must not overwrite the default.
      // No backoff given: share the frozen default instead of allocating one per job.
      .transform((b): Backoff =>
        b === undefined
          ? DEFAULT_BACKOFF
          : {
              baseMs: b?.baseMs ?? DEFAULT_BACKOFF.baseMs,
              maxMs: b?.maxMs ?? DEFAULT_BACKOFF.maxMs,
              jitter: b?.jitter ?? DEFAULT_BACKOFF.jitter,
            },
      ),
    timeoutMs: z.number().int().min(1).max(2_147_483_647).optional(),
    runAt: z
      .union([epochMs, z.date(), z.iso.datetime({ offset: true })], {
        error: "must be epoch ms (an integer >= 0), a valid Date or an ISO-8601 date-time with Z or an offset",
      })
      .optional()
      .transform((r) => (r === undefined ? undefined : typeof r === "number" ? r : new Date(r).getTime())),
    delayMs: z.number().int().min(0).max(2_147_483_647).optional(),
    dependsOn: z
      .array(jobIdSchema)
      .max(MAX_DEPENDENCIES, `must name at most ${MAX_DEPENDENCIES} jobs`)
      .optional()
      .superRefine((ids, ctx) => {
        if (ids === undefined) return;
        const seen = new Set<string>();
        for (let i = 0; i < ids.length; i++) {
          const id = ids[i] as string;
          if (seen.has(id)) ctx.addIssue({ code: "custom", message: `names job ${JSON.stringify(id)} twice`, path: [i] });
          seen.add(id);
        }
      })
      .transform((ids) => (ids === undefined || ids.length === 0 ? undefined : ids)),
    limits: JobLimitsInputSchema.optional(),
    group: groupSchema.optional(),
  })
  .strict()
  .refine((s) => s.runAt === undefined || s.delayMs === undefined, {
    message: "give runAt or delayMs, not both",
    path: ["delayMs"],
  })
  .refine((s) => s.id === undefined || s.dependsOn === undefined || !s.dependsOn.includes(s.id), {
    message: "a job cannot depend on itself",
    path: ["dependsOn"],
  });

/** An error as data: survives JSON, threads and processes. */
export interface SerializedError {
  name: string;
  message: string;
  code?: string | undefined;
  stack?: string | undefined;
}

/** Zod schema of {@link SerializedError}. */
export const SerializedErrorSchema: z.ZodType<SerializedError> = z.object({
  name: z.string(),
  message: z.string(),
  code: z.string().optional(),
  stack: z.string().optional(),
});

/** The error of one failed attempt, as a job's history ({@link Job.attemptErrors}) keeps it. */
export interface AttemptError {
  /** Which attempt failed (1 for the first). */
  attempt: number;
  /** Epoch ms it failed. */
  at: number;
  error: SerializedError;
}

/** How many failed attempts a job's history keeps: the most recent ones (a 1,000-attempt job's record stays small). */
export const MAX_ATTEMPT_ERRORS = 10;

/** A job as a store holds it. */
export interface Job {
  id: string;
  handler: string;
  payload: JsonValue;
  priority: number;
  mode: string;
  maxAttempts: number;
  backoff: Backoff;
  timeoutMs?: number | undefined;
  status: JobStatus;
  /** Attempts started so far (a running job's current attempt included). */
  attempts: number;
  /** The error of the last failed attempt. */
  lastError?: SerializedError | undefined;
  /** Epoch ms. */
  createdAt: number;
  /** Epoch ms of the last transition. */
  updatedAt: number;
  /** Epoch ms from which the job may run (next eligible time). */
  runAt: number;
  /** Increases with every update; stores compare-and-set on it. */
  version: number;
  /** The trace the job was submitted in (W3C), when tracing was on at submit. */
  traceContext?: TraceContext | undefined;
  /** The jobs this one waits for (see {@link JobSpecInput.dependsOn}); absent when none. */
  dependsOn?: readonly string[] | undefined;
  /**
   * The errors of its failed attempts, oldest first: the last {@link MAX_ATTEMPT_ERRORS} of
   * them (the last one is also `lastError`). Absent until an attempt fails.
   */
  attemptErrors?: readonly AttemptError[] | undefined;
  /** The engine limits the job uses, with its weight on each. */
  limits?: JobLimit[] | undefined;
  /** The job's fair-sharing group (tenant). */
  group?: string | undefined;
}

/** Zod schema of a {@link Job} record. Unknown keys are rejected. */
export const JobSchema: z.ZodType<Job> = z
  .object({
    id: jobIdSchema,
    handler: z.string().min(1),
    payload: JsonValueSchema,
    priority: z.number().int().min(MIN_PRIORITY).max(MAX_PRIORITY),
    mode: z.string().min(1),
    maxAttempts: z.number().int().min(1),
    backoff: BackoffSchema,
    timeoutMs: z.number().int().min(1).optional(),
    status: JobStatusSchema,
    attempts: z.number().int().min(0),
    lastError: SerializedErrorSchema.optional(),
    createdAt: epochMs,
    updatedAt: epochMs,
    runAt: epochMs,
    version: z.number().int().min(0),
    traceContext: TraceContextSchema.optional(),
    dependsOn: z.array(jobIdSchema).min(1).max(MAX_DEPENDENCIES).optional(),
    attemptErrors: z
      .array(z.object({ attempt: z.number().int().min(1), at: epochMs, error: SerializedErrorSchema }).strict())
      .min(1)
      .max(MAX_ATTEMPT_ERRORS)
      .optional(),
    limits: JobLimitsSchema.optional(),
    group: groupSchema.optional(),
  })
  .strict();

/** Final statuses a result records. */
export const RESULT_STATUSES = ["completed", "failed", "cancelled"] as const;
/** The status of a {@link Result}. */
export type ResultStatus = (typeof RESULT_STATUSES)[number];

/** The outcome of a job, written once when it reaches a terminal status. */
export interface Result {
  jobId: string;
  status: ResultStatus;
  /** The handler's output (completed jobs). */
  output?: JsonValue | undefined;
  /** Why the job failed or was cancelled. */
  error?: SerializedError | undefined;
  /** Epoch ms the last attempt started (or the cancel time for a job that never ran). */
  startedAt: number;
  /** Epoch ms the job reached its terminal status. */
  endedAt: number;
  durationMs: number;
  attempts: number;
}

/** Zod schema of a {@link Result}. Unknown keys are rejected. */
export const ResultSchema: z.ZodType<Result> = z
  .object({
    jobId: jobIdSchema,
    status: z.enum(RESULT_STATUSES),
    output: JsonValueSchema.optional(),
    error: SerializedErrorSchema.optional(),
    startedAt: epochMs,
    endedAt: epochMs,
    durationMs: z.number().min(0),
    attempts: z.number().int().min(0),
  })
  .strict();
