// The dependencies capability on SQLite: the edges from unfinished parents to `waiting` jobs live
// in `job_dependencies` (migration 0007), and the store kit's resolver (`linkInserted`,
// `settleEnded`) walks them inside the write transaction that ends a parent. SQLite's single
// write lock serializes those transactions across processes, so two parents completing at once
// cannot both miss the other's end.
import type { Job, Result } from "@pyrexis/models";
import { endedParentsOf, linkInserted, settleEnded, type SyncDependencyGraph } from "@pyrexis/storage/kit";
import type { SqliteDatabaseLike, SqliteStatementLike } from "./sqlite-database-like.js";

/** What the graph needs from its store, all inside the current write transaction. */
export interface SqliteDependencyHost {
  /** The job as stored now. */
  readonly job: (id: string) => Job | undefined;
  /** Writes a record one version after the stored one (a compare-and-set that cannot miss under the write lock). */
  readonly write: (job: Job) => void;
  /** Writes a result of a job that has none. */
  readonly writeResult: (result: Result) => void;
}

/** The edges of one store's connection, and the kit's resolver over them. */
export class SqliteDependencies {
  readonly #graph: SyncDependencyGraph;
  readonly #any: SqliteStatementLike;

  constructor(db: SqliteDatabaseLike, host: SqliteDependencyHost) {
    const add = db.prepare("INSERT OR IGNORE INTO job_dependencies (parent_id, child_id) VALUES (?, ?)");
    const take = db.prepare("DELETE FROM job_dependencies WHERE parent_id = ? RETURNING child_id");
    const hasParents = db.prepare("SELECT 1 AS one FROM job_dependencies WHERE child_id = ? LIMIT 1");
    const dropParents = db.prepare("DELETE FROM job_dependencies WHERE child_id = ?");
    this.#any = db.prepare("SELECT 1 AS one FROM job_dependencies LIMIT 1");
    this.#graph = {
      job: host.job,
      addEdge: (parentId, childId) => void add.run(parentId, childId),
      takeChildren: (parentId) => (take.all(parentId) as { child_id: string }[]).map((r) => r.child_id),
      hasParents: (childId) => hasParents.get(childId) !== undefined,
      dropParents: (childId) => void dropParents.run(childId),
      write: host.write,
      writeResult: host.writeResult,
      isEmpty: () => this.#any.get() === undefined,
    };
  }

  /** Resolves new dependents (parents first, as `orderDependentInserts` returns them). Inside the write transaction. */
  linkInserted(ordered: readonly Job[], now: number): void {
    linkInserted(this.#graph, ordered, now);
  }

  /**
   * Carries the jobs a write ended (those of `written` in a terminal status) to their
   * dependents, inside that write's transaction. One probe of an empty table when no graph is in
   * flight (edges go as their parents end), so the commit path pays nearly nothing for it.
   */
  settleWritten(written: readonly Job[], now: number): void {
    if (this.#any.get() === undefined) return;
    settleEnded(this.#graph, endedParentsOf(written), now);
  }
}
