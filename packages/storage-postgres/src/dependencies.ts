// The dependencies capability on PostgreSQL. Edges from unfinished parents to `waiting` jobs live
// in `job_dependencies` (migration 0004); a parent row carries `has_dependents`, which the
// commit's own update returns, so a batch of completions without dependents costs no extra
// statement. Concurrent transactions (READ COMMITTED) stay correct by row locks:
// - a new dependent sets `has_dependents` on its parents (`UPDATE … RETURNING status`): the
//   update waits for a transaction ending the parent, then reads its end; a transaction ending
//   the parent later waits for it, and its update returns `has_dependents = true`;
// - a transaction that ends parents deletes their edges, then locks the dependents
//   (`FOR UPDATE`, in id order) before counting the edges left: of two transactions ending a
//   dependent's last two parents, the second waits for the first's lock and then (a new
//   statement, a new snapshot) sees both edges gone.
import { CompiledQuery, type Transaction } from "kysely";
import { StoreFailureError, type Job } from "@pyrexis/models";
import { endedDependent, insertedStanding, releasedDependent, type EndedParent } from "@pyrexis/storage/kit";
import { quoteIdent } from "./migrations.js";
import { JOB_COLUMNS, jobColumns, readJob, updateJobsParams, type JobColumns, type JobRow } from "./records.js";

type Executor = Transaction<unknown>;

async function run<R>(trx: Executor, text: string, params: readonly unknown[]): Promise<R[]> {
  return (await trx.executeQuery<R>(CompiledQuery.raw(text, params as unknown[]))).rows;
}

/** What the resolver writes with: the store's compare-and-set update and result insert. */
export interface PostgresDependencyWrites {
  /** The store's `updateJobs` statement (parameters from `updateJobsParams`; returns `id`). */
  readonly updateJobs: string;
  /** The store's `insertResults` statement ($1 job ids, $2 data). */
  readonly insertResults: string;
  readonly agingRate: number;
  /**
   * The store's explanation of updates the compare-and-set missed (`rows` are those it wrote):
   * throws the contract's error, or repairs stale flow columns, updates again and returns the
   * rows it wrote then.
   */
  readonly updateMissed: (
    trx: Executor,
    columns: JobColumns,
    expected: number[],
    jobs: readonly Job[],
    rows: readonly { id: string }[],
  ) => Promise<readonly { id: string }[]>;
}

/** The dependency statements of one schema, and the resolver over them. */
export class PostgresDependencies {
  readonly #writes: PostgresDependencyWrites;
  readonly #markParents: string;
  readonly #addEdges: string;
  readonly #takeEdges: string;
  readonly #lockJobs: string;
  readonly #edgesLeft: string;
  readonly #dropParents: string;

  constructor(schema: string, writes: PostgresDependencyWrites) {
    const s = quoteIdent(schema);
    const deps = `${s}.job_dependencies`;
    this.#writes = writes;
    // Locked in id order, so submissions marking shared parents never deadlock with each other
    // (a deadlock with a batch completing them is retried by the store).
    this.#markParents = `UPDATE ${s}.jobs SET has_dependents = true
      WHERE id IN (SELECT id FROM ${s}.jobs WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE) RETURNING id, status`;
    this.#addEdges = `INSERT INTO ${deps} (parent_id, child_id) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING`;
    this.#takeEdges = `DELETE FROM ${deps} WHERE parent_id = ANY($1::text[]) RETURNING parent_id, child_id`;
    this.#lockJobs = `SELECT ${JOB_COLUMNS} FROM ${s}.jobs WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE`;
    this.#edgesLeft = `SELECT DISTINCT child_id FROM ${deps} WHERE child_id = ANY($1::text[])`;
    this.#dropParents = `DELETE FROM ${deps} WHERE child_id = ANY($1::text[])`;
  }

  /**
   * Resolves a batch's new dependents (parents first, as `orderDependentInserts` returns them;
   * already inserted `waiting` in `trx`): released, ended, or linked by edges. Returns the id of
   * a parent that does not exist, for the caller's `UnknownDependencyError`, or `undefined`.
   */
  async linkInserted(trx: Executor, ordered: readonly Job[], now: number): Promise<{ jobId: string; parentId: string } | undefined> {
    const parentIds = [...new Set(ordered.flatMap((j) => j.dependsOn!))];
    const marked = await run<{ id: string; status: Job["status"] }>(trx, this.#markParents, [parentIds]);
    const status = new Map(marked.map((r) => [r.id, r.status]));
    for (const job of ordered) for (const p of job.dependsOn!) if (!status.has(p)) return { jobId: job.id, parentId: p };
    const writes: Job[] = [];
    const results: { jobId: string; data: string }[] = [];
    const edgeParents: string[] = [];
    const edgeChildren: string[] = [];
    for (const job of ordered) {
      const standing = insertedStanding(job, (id) => status.get(id)!);
      if (standing.kind === "ready") {
        writes.push(releasedDependent(job, now));
        status.set(job.id, "pending");
      } else if (standing.kind === "ended") {
        const out = endedDependent(job, standing.parent, now);
        writes.push(out.job);
        results.push({ jobId: job.id, data: JSON.stringify(out.result) });
        status.set(job.id, out.job.status);
      } else {
        for (const p of standing.unfinished) {
          edgeParents.push(p);
          edgeChildren.push(job.id);
        }
      }
    }
    if (edgeParents.length > 0) await run(trx, this.#addEdges, [edgeParents, edgeChildren]);
    await this.#write(trx, writes, results);
    return undefined;
  }

  /**
   * Carries `ended` parents (written in `trx`) to their `waiting` dependents, transitively: the
   * release and failure rules of the capability.
   */
  async settle(trx: Executor, ended: readonly EndedParent[], now: number): Promise<void> {
    let wave = [...ended];
    while (wave.length > 0) {
      const byId = new Map(wave.map((p) => [p.id, p]));
      const edges = await run<{ parent_id: string; child_id: string }>(trx, this.#takeEdges, [[...byId.keys()]]);
      if (edges.length === 0) return;
      // The parent that decides each dependent: a failed one wins, then a cancelled one.
      const decided = new Map<string, EndedParent>();
      for (const { parent_id, child_id } of edges) {
        const parent = byId.get(parent_id)!;
        const seen = decided.get(child_id);
        if (seen === undefined || rank(parent) > rank(seen)) decided.set(child_id, parent);
      }
      const childIds = [...decided.keys()];
      const rows = await run<JobRow>(trx, this.#lockJobs, [childIds]);
      const left = new Set((await run<{ child_id: string }>(trx, this.#edgesLeft, [childIds])).map((r) => r.child_id));
      const writes: Job[] = [];
      const results: { jobId: string; data: string }[] = [];
      const next: EndedParent[] = [];
      for (const row of rows) {
        if (row.status !== "waiting") continue;
        const child = readJob(row);
        const parent = decided.get(child.id)!;
        if (parent.status === "completed") {
          if (!left.has(child.id)) writes.push(releasedDependent(child, now));
          continue;
        }
        const out = endedDependent(child, parent, now);
        writes.push(out.job);
        results.push({ jobId: child.id, data: JSON.stringify(out.result) });
        next.push({ id: child.id, status: out.job.status as "failed" | "cancelled", originId: parent.originId });
      }
      if (next.length > 0) {
        await run(trx, this.#dropParents, [next.map((p) => p.id)]);
      }
      await this.#write(trx, writes, results);
      wave = next;
    }
  }

  /** Writes resolved records (compare-and-set on the version read under lock) and their results. */
  async #write(trx: Executor, jobs: readonly Job[], results: readonly { jobId: string; data: string }[]): Promise<void> {
    if (jobs.length > 0) {
      const c = jobColumns(jobs, this.#writes.agingRate);
      const expected = jobs.map((j) => j.version - 1);
      const written = await run<{ id: string }>(trx, this.#writes.updateJobs, updateJobsParams(c, expected));
      // A miss is a row whose flow columns a migration left stale (a dependent waiting then):
      // the rows are locked, so it is never a concurrent writer.
      if (written.length !== jobs.length) {
        const again = await this.#writes.updateMissed(trx, c, expected, jobs, written);
        if (written.length + again.length !== jobs.length)
          throw new StoreFailureError("a dependent changed while its parents were resolved");
      }
    }
    if (results.length > 0) {
      await run(trx, this.#writes.insertResults, [results.map((r) => r.jobId), results.map((r) => r.data)]);
    }
  }
}

function rank(p: EndedParent): number {
  return p.status === "failed" ? 2 : p.status === "cancelled" ? 1 : 0;
}
