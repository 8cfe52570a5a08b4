import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { loadHandlersModule } from "@pyrexis/executors";
import {
  createJob,
  DuplicateJobError,
  HandlerNotFoundError,
  isPyrexisError,
  JobConflictError,
  parseJobSpec,
  UnknownModeError,
  ValidationError,
  type Job,
  type JobSpec,
  type JobSpecInput,
} from "@pyrexis/models";
import { insertJobsIfAbsent } from "@pyrexis/storage";
import { UsageError } from "../errors.js";
import { parseUseFlags } from "../flow-flags.js";
import { CLI_MODES } from "../modes.js";
import type { CliIo } from "../io.js";
import { openOrCreateStore, resolveHandlersPath, resolveStorePath, withStore } from "../store.js";

/** Options of `pyrexis submit`. */
export interface SubmitOptions {
  store?: string | undefined;
  handlers?: string | undefined;
  priority?: number | undefined;
  mode?: string | undefined;
  maxAttempts?: number | undefined;
  delay?: number | undefined;
  id?: string | undefined;
  timeout?: number | undefined;
  dependsOn?: string[] | undefined;
  /** Limits the job uses, `key`, `key:units` or `key=units` each (or comma lists). */
  limit?: string[] | undefined;
  /** The same as {@link limit}. */
  use?: string[] | undefined;
  /** The job's fair-sharing group. */
  group?: string | undefined;
  file?: string | undefined;
  ifExists?: "error" | "return" | undefined;
  json?: boolean | undefined;
}

// Spec fields as the flags that set them, so a single-job error names the flag the user typed.
const FLAG_OF: Readonly<Record<string, string>> = {
  priority: "--priority",
  mode: "--mode",
  maxAttempts: "--max-attempts",
  delayMs: "--delay",
  id: "--id",
  timeoutMs: "--timeout",
  dependsOn: "--depends-on",
  limits: "--limit",
  group: "--group",
  handler: "<handler>",
  payload: "[payload]",
};

/** One spec to submit and where it came from (for messages). */
interface Sourced {
  readonly where: string;
  readonly input: unknown;
}

/**
 * `pyrexis submit`: validates every spec (JSON, schema, mode, handler when a handlers module is
 * known) BEFORE opening the store, then inserts them all in one atomic commit. Prints the ids.
 * With `--if-exists return`, specs whose ids the store holds print the stored job instead (the
 * same work, else `JobConflictError`), and only the others are inserted.
 */
export async function submitCommand(
  handler: string | undefined,
  payload: string | undefined,
  options: SubmitOptions,
  io: CliIo,
): Promise<number> {
  const sources =
    options.file !== undefined
      ? await specsFromFile(options.file, handler, payload, options, io)
      : [specFromFlags(handler, payload, options)];
  const handlersPath = resolveHandlersPath(options.handlers, io);
  const known = handlersPath === undefined ? undefined : Object.keys(await loadHandlersModule(handlersPath));
  const storePath = resolveStorePath(options.store, io);

  const now = Date.now();
  const jobs: Job[] = [];
  const given: boolean[] = [];
  const whereById = new Map<string, string>();
  for (const { where, input } of sources) {
    const spec = parseSpec(input, where, sources.length === 1 && options.file === undefined);
    if (!CLI_MODES.includes(spec.mode)) throw prefixed(where, new UnknownModeError(spec.mode, CLI_MODES));
    if (known && !known.includes(spec.handler)) throw prefixed(where, new HandlerNotFoundError(spec.handler, known));
    const job = createJob(spec, now);
    const seen = whereById.get(job.id);
    if (seen !== undefined) throw new UsageError(`${where}: id: duplicate id "${job.id}" (also ${seen})`);
    whereById.set(job.id, where);
    jobs.push(job);
    given.push(spec.id !== undefined);
  }

  const printed = await withStore(openOrCreateStore(storePath), async (store) => {
    try {
      if (options.ifExists !== "return") {
        await store.commit({ insert: jobs });
        return jobs;
      }
      // Another producer may insert one of the ids between the look-up and the insert: it looks again.
      return (await insertJobsIfAbsent(store, jobs, given)).jobs;
    } catch (e) {
      if (
        (isPyrexisError(e, "DUPLICATE_JOB") && e instanceof DuplicateJobError) ||
        (isPyrexisError(e, "JOB_CONFLICT") && e instanceof JobConflictError)
      ) {
        const where = whereById.get(e.jobId);
        throw where !== undefined && sources.length > 1 ? prefixed(where, e) : e;
      }
      throw e;
    }
  });

  if (options.json) io.stdout.write(`${JSON.stringify(printed.length === 1 && options.file === undefined ? printed[0] : printed)}\n`);
  else io.stdout.write(printed.map((j) => `${j.id}\n`).join(""));
  return 0;
}

function prefixed<E extends Error>(where: string, error: E): E {
  if (where !== "") error.message = `${where}: ${error.message}`;
  return error;
}

function parseSpec(input: unknown, where: string, fromFlags: boolean): JobSpec {
  try {
    return parseJobSpec(input, where === "" ? "job spec" : `job spec on ${where}`);
  } catch (e) {
    if (!fromFlags || !(e instanceof ValidationError)) throw e;
    const parts = e.issues.map((i) => {
      const key = i.path[0];
      const flag = typeof key === "string" ? (FLAG_OF[key] ?? key) : "(root)";
      return `${flag}: ${i.message}`;
    });
    throw new UsageError(`invalid job: ${parts.join("; ")}`, e.issues);
  }
}

function parsePayload(text: string, what: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new UsageError(`${what} is not valid JSON: ${(e as Error).message}`);
  }
}

function specFromFlags(handler: string | undefined, payload: string | undefined, o: SubmitOptions): Sourced {
  if (handler === undefined) throw new UsageError("missing <handler> (or give --file <jobs.jsonl>)");
  const input: JobSpecInput = { handler };
  if (payload !== undefined) input.payload = parsePayload(payload, "payload") as JobSpecInput["payload"];
  if (o.priority !== undefined) input.priority = o.priority;
  if (o.mode !== undefined) input.mode = o.mode;
  if (o.maxAttempts !== undefined) input.maxAttempts = o.maxAttempts;
  if (o.delay !== undefined) input.delayMs = o.delay;
  if (o.id !== undefined) input.id = o.id;
  if (o.timeout !== undefined) input.timeoutMs = o.timeout;
  if (o.dependsOn !== undefined) input.dependsOn = o.dependsOn;
  const limits = parseUseFlags([...(o.limit ?? []), ...(o.use ?? [])], o.limit !== undefined ? "--limit" : "--use");
  if (limits !== undefined) input.limits = limits;
  if (o.group !== undefined) input.group = o.group;
  return { where: "", input };
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString("utf8");
}

async function specsFromFile(
  file: string,
  handler: string | undefined,
  payload: string | undefined,
  o: SubmitOptions,
  io: CliIo,
): Promise<Sourced[]> {
  if (handler !== undefined || payload !== undefined) throw new UsageError("give either <handler> [payload] or --file, not both");
  const perJob = {
    "--priority": o.priority,
    "--mode": o.mode,
    "--max-attempts": o.maxAttempts,
    "--delay": o.delay,
    "--id": o.id,
    "--timeout": o.timeout,
    "--limit": o.limit,
    "--use": o.use,
    "--group": o.group,
  };
  const clash = Object.entries(perJob).find(([, v]) => v !== undefined);
  if (clash) throw new UsageError(`${clash[0]} cannot be combined with --file (set it per line in the JSON Lines file)`);
  let text: string;
  const name = file === "-" ? "stdin" : file;
  try {
    text = file === "-" ? await readAll(io.stdin) : await readFile(resolve(io.cwd, file), "utf8");
  } catch (e) {
    throw new UsageError(`cannot read --file ${name}: ${(e as Error).message}`);
  }
  const out: Sourced[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "") continue;
    const where = `line ${i + 1}`;
    const input = parsePayload(line, where);
    if (typeof input !== "object" || input === null || Array.isArray(input)) {
      throw new UsageError(`${where}: expected a job spec object like {"handler":"name","payload":…}`);
    }
    out.push({ where, input });
  }
  if (out.length === 0) throw new UsageError(`--file ${name} holds no job specs`);
  return out;
}
