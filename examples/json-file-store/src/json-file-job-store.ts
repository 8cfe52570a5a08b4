import { randomBytes } from "node:crypto";
import { open, readFile, rename, rm } from "node:fs/promises";
import {
  CorruptRecordError,
  IncompatibleStoreError,
  isPyrexisError,
  parseJob,
  parseResult,
  StoreClosedError,
  StoreFailureError,
  type Job,
  type JobStatus,
  type Result,
} from "@pyrexis/models";
import { type CommitBatch, type JobStore, type ListJobsPage, type ListJobsQuery, type StoreCapabilities } from "@pyrexis/storage";
import {
  assertJobId,
  checkCommit,
  compareListPosition,
  deepFreeze,
  emptyStatusCounts,
  encodeListCursor,
  normalizeListQuery,
} from "@pyrexis/storage/kit";

/** The `format` field every file of this store starts with. */
export const JSON_FILE_STORE_FORMAT = "pyrexis-json-file-store";
/** The file layout version this code writes (and the newest it reads). */
export const JSON_FILE_STORE_VERSION = 1;

/** Options of {@link JsonFileJobStore.open}. */
export interface JsonFileJobStoreOptions {
  /** The JSON file. Created on the first commit; its directory must exist. */
  readonly path: string;
  /**
   * `fsync` the temp file before renaming it over the old one (default `true`). Without it a
   * power loss may leave an empty file; a process crash is safe either way.
   */
  readonly fsync?: boolean | undefined;
}

interface FileContents {
  format: string;
  version: number;
  jobs: unknown[];
  results: unknown[];
}

const CAPABILITIES: StoreCapabilities = Object.freeze({ persistent: true, shared: false });

/**
 * A complete, small {@link JobStore} that keeps every job and result in one JSON file: all data
 * lives in memory, and each commit rewrites the file atomically (write a temp file, fsync,
 * rename over the old one), so a crash leaves either the old or the new file, never half of one.
 * Fine for a few thousand jobs; every commit costs O(all data).
 *
 * Not `shared`: two instances on one file would overwrite each other's commits.
 *
 * @example
 * ```ts
 * const store = await JsonFileJobStore.open({ path: "./jobs.json" });
 * await store.commit({ insert: [job] });
 * await store.close();
 * ```
 */
export class JsonFileJobStore implements JobStore {
  /** Persistent (data survives reopen), not shared. */
  readonly capabilities: StoreCapabilities = CAPABILITIES;
  readonly #path: string;
  readonly #fsync: boolean;
  #jobs: Map<string, Job>;
  #results: Map<string, Result>;
  /** Commits run one at a time, in call order; this is the tail of that queue. */
  #tail: Promise<void> = Promise.resolve();
  #closed = false;

  private constructor(path: string, fsync: boolean, jobs: Map<string, Job>, results: Map<string, Result>) {
    this.#path = path;
    this.#fsync = fsync;
    this.#jobs = jobs;
    this.#results = results;
  }

  /**
   * Opens (or starts) the store at `options.path`. Rejects with `IncompatibleStoreError` when the
   * file is not JSON of this store or of a newer layout, and with `CorruptRecordError` naming the
   * job when a record in it is not a valid job or result.
   */
  static async open(options: JsonFileJobStoreOptions): Promise<JsonFileJobStore> {
    if (typeof options?.path !== "string" || options.path.length === 0) {
      throw new TypeError("JsonFileJobStore.open: options.path must be a non-empty string");
    }
    let text: string | undefined;
    try {
      text = await readFile(options.path, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw new StoreFailureError(`cannot read ${options.path}`, { cause: e });
    }
    const jobs = new Map<string, Job>();
    const results = new Map<string, Result>();
    if (text !== undefined) {
      const data = parseFile(options.path, text);
      for (const [i, raw] of data.jobs.entries()) {
        const job = deepFreeze(parseRecord(raw, i, "job", parseJob));
        jobs.set(job.id, job);
      }
      for (const [i, raw] of data.results.entries()) {
        const result = deepFreeze(parseRecord(raw, i, "result", parseResult));
        if (!jobs.has(result.jobId)) throw new CorruptRecordError(result.jobId, "result of a job that is not in the file");
        results.set(result.jobId, result);
      }
    }
    return new JsonFileJobStore(options.path, options.fsync ?? true, jobs, results);
  }

  /** The file this store writes. */
  get path(): string {
    return this.#path;
  }

  async commit(batch: CommitBatch): Promise<void> {
    this.#assertOpen();
    const run = this.#tail.then(() => this.#commitNow(batch));
    this.#tail = run.catch(() => undefined);
    return run;
  }

  async #commitNow(batch: CommitBatch): Promise<void> {
    const { batch: b } = checkCommit(batch, { job: (id) => this.#jobs.get(id), hasResult: (id) => this.#results.has(id) });
    // JSON round trip: what we keep in memory is exactly what a reopen will read back.
    const jobs = new Map(this.#jobs);
    const results = new Map(this.#results);
    for (const job of b.insert ?? []) jobs.set(job.id, deepFreeze(jsonCopy(job)));
    for (const { job } of b.update ?? []) jobs.set(job.id, deepFreeze(jsonCopy(job)));
    for (const result of b.results ?? []) results.set(result.jobId, deepFreeze(jsonCopy(result)));
    await this.#write(jobs, results);
    // Only now, with the new file in place, does the batch become visible.
    this.#jobs = jobs;
    this.#results = results;
  }

  async #write(jobs: Map<string, Job>, results: Map<string, Result>): Promise<void> {
    const contents: FileContents = {
      format: JSON_FILE_STORE_FORMAT,
      version: JSON_FILE_STORE_VERSION,
      jobs: [...jobs.values()],
      results: [...results.values()],
    };
    const temp = `${this.#path}.${randomBytes(6).toString("hex")}.tmp`;
    try {
      const handle = await open(temp, "wx");
      try {
        await handle.writeFile(JSON.stringify(contents), "utf8");
        if (this.#fsync) await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, this.#path);
    } catch (e) {
      await rm(temp, { force: true }).catch(() => undefined);
      throw new StoreFailureError(`cannot write ${this.#path}: ${(e as Error).message}`, { cause: e });
    }
  }

  async getJob(id: string): Promise<Job | undefined> {
    this.#assertOpen();
    assertJobId(id);
    return this.#jobs.get(id);
  }

  async getResult(jobId: string): Promise<Result | undefined> {
    this.#assertOpen();
    assertJobId(jobId);
    return this.#results.get(jobId);
  }

  async listJobs(query?: ListJobsQuery): Promise<ListJobsPage> {
    this.#assertOpen();
    const { statuses, limit, order, after } = normalizeListQuery(query);
    const sign = order === "asc" ? 1 : -1;
    // Sorting everything per page is O(n log n): fine for the sizes this store is meant for.
    const candidates = [...this.#jobs.values()]
      .filter(
        (j) => (statuses === undefined || statuses.has(j.status)) && (after === undefined || sign * compareListPosition(j, after) > 0),
      )
      .sort((a, b) => sign * compareListPosition(a, b));
    const jobs = candidates.slice(0, limit);
    const last = jobs[jobs.length - 1];
    return candidates.length > limit && last !== undefined ? { jobs, cursor: encodeListCursor(last, order) } : { jobs };
  }

  async countByStatus(): Promise<Record<JobStatus, number>> {
    this.#assertOpen();
    const counts = emptyStatusCounts();
    for (const job of this.#jobs.values()) counts[job.status]++;
    return counts;
  }

  async close(): Promise<void> {
    this.#closed = true;
    // Commits accepted before close still finish (or fail) before close resolves.
    await this.#tail;
  }

  #assertOpen(): void {
    if (this.#closed) throw new StoreClosedError(`JsonFileJobStore ${this.#path} is closed`);
  }
}

function jsonCopy<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

function parseFile(path: string, text: string): FileContents {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new IncompatibleStoreError(`${path} is not a Pyrexis JSON file store: not valid JSON`, { cause: e });
  }
  const d = data as Partial<FileContents> | null;
  if (typeof d !== "object" || d === null || d.format !== JSON_FILE_STORE_FORMAT) {
    throw new IncompatibleStoreError(`${path} is not a Pyrexis JSON file store (no "format": "${JSON_FILE_STORE_FORMAT}")`);
  }
  if (typeof d.version !== "number" || d.version > JSON_FILE_STORE_VERSION) {
    throw new IncompatibleStoreError(`${path} has layout version ${String(d.version)}; this code reads up to ${JSON_FILE_STORE_VERSION}`);
  }
  if (!Array.isArray(d.jobs) || !Array.isArray(d.results)) {
    throw new IncompatibleStoreError(`${path} is damaged: "jobs" and "results" must be arrays`);
  }
  return d as FileContents;
}

function parseRecord<T>(raw: unknown, index: number, what: string, parse: (input: unknown, what: string) => T): T {
  const id = (raw as { id?: unknown; jobId?: unknown } | null)?.[what === "job" ? "id" : "jobId"];
  const name = typeof id === "string" ? id : `#${index}`;
  try {
    return parse(raw, `${what} ${name}`);
  } catch (e) {
    if (isPyrexisError(e, "VALIDATION")) throw new CorruptRecordError(name, (e as Error).message, { cause: e });
    throw e;
  }
}
