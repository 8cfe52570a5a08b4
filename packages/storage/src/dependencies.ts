import {
  createResult,
  DependencyCycleError,
  DependencyFailedError,
  MAX_DEPENDENCIES,
  serializeError,
  transition,
  UnknownDependencyError,
  ValidationError,
  type Job,
  type Result,
} from "@pyrexis/models";
import type { JobStore } from "./job-store.js";

// The dependencies capability: jobs that wait for other jobs.
//
// A job inserted with `dependsOn` is `waiting`. The store keeps an edge from each parent that has
// not finished to the job, and resolves edges inside the same atomic operation that ends a parent
// (a commit, or a reclaim that fails a job): when a job's last parent completes, the job becomes
// `pending`; when a parent fails or is cancelled, the job fails or is cancelled, and so on down
// the graph. Because resolution happens in the write that ends the parent, it holds with many
// engines on one store and across crashes: there is no moment where a parent has completed and
// its dependents have not been told.

/** What a store tracks per ended parent while it resolves dependents: the parent and the job whose end started the chain. */
export interface EndedParent {
  readonly id: string;
  readonly status: "completed" | "failed" | "cancelled";
  /** The first job of a failure chain (the parent itself unless it ended because of its own parent). */
  readonly originId: string;
}

function invalid(message: string, path: (string | number)[]): ValidationError {
  return new ValidationError(message, [{ path, message }]);
}

/**
 * Checks the dependency fields of a batch's inserts (see the insert rule) and returns the
 * inserts that have dependencies, parents inserted in the batch before their dependents; an
 * empty array when none has (the common case costs one property read per insert). Throws
 * `ValidationError` for a malformed `dependsOn` or a job with dependencies that is not
 * `waiting`, and `DependencyCycleError` for a cycle among the batch's jobs.
 */
export function orderDependentInserts(insert: readonly Job[]): Job[] {
  let dependent: Job[] | undefined;
  for (let i = 0; i < insert.length; i++) {
    const job = insert[i] as Job;
    if (job.dependsOn === undefined) continue;
    checkDependsOn(job, i);
    (dependent ??= []).push(job);
  }
  if (dependent === undefined) return [];
  // Depth-first topological order over the batch's own edges; a grey node met again is a cycle.
  const byId = new Map<string, Job>();
  for (const job of dependent) byId.set(job.id, job);
  const state = new Map<string, 1 | 2>(); // 1: on the current path, 2: done
  const ordered: Job[] = [];
  for (const root of dependent) {
    if (state.has(root.id)) continue;
    // An explicit stack: a chain of ten thousand jobs must not overflow the call stack.
    const stack: { job: Job; next: number }[] = [{ job: root, next: 0 }];
    state.set(root.id, 1);
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const parents = top.job.dependsOn!;
      if (top.next < parents.length) {
        const parent = byId.get(parents[top.next++]!);
        if (parent === undefined) continue;
        const s = state.get(parent.id);
        if (s === 2) continue;
        if (s === 1) {
          const from = stack.findIndex((f) => f.job.id === parent.id);
          throw new DependencyCycleError(stack.slice(from).map((f) => f.job.id));
        }
        state.set(parent.id, 1);
        stack.push({ job: parent, next: 0 });
      } else {
        stack.pop();
        state.set(top.job.id, 2);
        ordered.push(top.job);
      }
    }
  }
  return ordered;
}

function checkDependsOn(job: Job, i: number): void {
  const deps: unknown = job.dependsOn;
  const where = `insert #${i} (job ${job.id})`;
  if (!Array.isArray(deps) || deps.length === 0 || deps.length > MAX_DEPENDENCIES) {
    throw invalid(`${where}: dependsOn must be an array of 1 to ${MAX_DEPENDENCIES} job ids when present`, ["insert", i, "dependsOn"]);
  }
  const seen = new Set<string>();
  for (const id of deps as unknown[]) {
    if (typeof id !== "string" || id.length === 0)
      throw invalid(`${where}: dependsOn must hold non-empty strings`, ["insert", i, "dependsOn"]);
    if (id === job.id) throw invalid(`${where}: a job cannot depend on itself`, ["insert", i, "dependsOn"]);
    if (seen.has(id)) throw invalid(`${where}: dependsOn names job ${id} twice`, ["insert", i, "dependsOn"]);
    seen.add(id);
  }
  if (job.status !== "waiting") {
    throw invalid(`${where}: a job with dependencies must be inserted "waiting", not "${job.status}"`, ["insert", i, "status"]);
  }
}

/** Throws `UnknownDependencyError` for the first parent of `ordered` that `exists` does not know (a stored or batch-inserted id). */
export function assertKnownParents(ordered: readonly Job[], exists: (id: string) => boolean): void {
  for (const job of ordered) for (const parent of job.dependsOn!) if (!exists(parent)) throw new UnknownDependencyError(job.id, parent);
}

/** The record that releases a `waiting` job whose parents all completed: `pending`, due no earlier than now. */
export function releasedDependent(job: Job, now: number): Job {
  return transition(job, "pending", now, job.runAt < now ? { runAt: now } : undefined);
}

/** What ends a `waiting` job whose parent failed or was cancelled: its record and its result. */
export function endedDependent(job: Job, parent: EndedParent, now: number): { readonly job: Job; readonly result: Result } {
  const status = parent.status === "failed" ? "failed" : "cancelled";
  // No stack: it would show the store's internals, not anything about the job.
  const { name, message, code } = serializeError(new DependencyFailedError(job.id, parent.id, status, parent.originId));
  const error = { name, message, code };
  const next = transition(job, status, now, { lastError: error });
  const result = createResult({ jobId: job.id, status, startedAt: now, endedAt: now, attempts: job.attempts, error });
  return { job: next, result };
}

/** How a new dependent stands against its parents (as they are after the batch's writes). */
export type InsertedStanding =
  | { readonly kind: "ready" }
  | { readonly kind: "ended"; readonly parent: EndedParent }
  | { readonly kind: "waiting"; readonly unfinished: readonly string[] };

/**
 * Where a new dependent stands: `ended` when a parent failed (preferred) or was cancelled,
 * `ready` when every parent completed, else `waiting` on the parents that have not finished.
 * `statusOf` answers a parent's current status (it exists: {@link assertKnownParents} ran).
 */
export function insertedStanding(job: Job, statusOf: (id: string) => Job["status"]): InsertedStanding {
  let cancelled: EndedParent | undefined;
  let unfinished: string[] | undefined;
  for (const id of job.dependsOn!) {
    const status = statusOf(id);
    if (status === "completed") continue;
    if (status === "failed") return { kind: "ended", parent: { id, status, originId: id } };
    if (status === "cancelled") cancelled ??= { id, status, originId: id };
    else (unfinished ??= []).push(id);
  }
  if (cancelled !== undefined) return { kind: "ended", parent: cancelled };
  return unfinished === undefined ? { kind: "ready" } : { kind: "waiting", unfinished };
}

/**
 * The edges and records a synchronous store (one that can read inside its write, as in memory
 * or with better-sqlite3) exposes to {@link linkInserted} and {@link settleEnded}. Edges run from
 * a parent that has not finished to a `waiting` dependent.
 */
export interface SyncDependencyGraph {
  /** The job as it stands now, inside the write. */
  job(id: string): Job | undefined;
  addEdge(parentId: string, childId: string): void;
  /** The dependents of `parentId` (edges from it), which it then forgets. */
  takeChildren(parentId: string): readonly string[];
  /** True when an edge still leads into `childId`. */
  hasParents(childId: string): boolean;
  /** Forgets every edge into `childId`. */
  dropParents(childId: string): void;
  /** Writes a record the resolver built (its version is the stored one + 1). */
  write(job: Job): void;
  /** Writes the result of a dependent that ended. */
  writeResult(result: Result): void;
  /** True when no edge exists at all (lets a commit skip the ended parents' look-ups). */
  isEmpty(): boolean;
}

/**
 * Resolves a batch's new dependents (`ordered`, from {@link orderDependentInserts}, already
 * written `waiting`) against their parents: released, ended, or linked by edges. Parents come
 * first in `ordered`, so a dependent of a job that ended here reads its end directly (a new job
 * has no edges to carry it further).
 */
export function linkInserted(graph: SyncDependencyGraph, ordered: readonly Job[], now: number): void {
  for (const inserted of ordered) {
    const job = graph.job(inserted.id)!;
    const standing = insertedStanding(job, (id) => graph.job(id)!.status);
    if (standing.kind === "ready") graph.write(releasedDependent(job, now));
    else if (standing.kind === "ended") {
      const ended = endedDependent(job, standing.parent, now);
      graph.write(ended.job);
      graph.writeResult(ended.result);
    } else for (const parent of standing.unfinished) graph.addEdge(parent, job.id);
  }
}

/**
 * Carries the end of `ended` parents to their `waiting` dependents, transitively (see the
 * release and failure rules). Call it inside the write that ended them, after that write.
 */
export function settleEnded(graph: SyncDependencyGraph, ended: readonly EndedParent[], now: number): void {
  if (graph.isEmpty()) return;
  const queue = [...ended];
  for (let i = 0; i < queue.length; i++) {
    const parent = queue[i]!;
    for (const childId of graph.takeChildren(parent.id)) {
      const child = graph.job(childId);
      if (child === undefined || child.status !== "waiting") continue;
      if (parent.status === "completed") {
        if (!graph.hasParents(childId)) graph.write(releasedDependent(child, now));
        continue;
      }
      const out = endedDependent(child, parent, now);
      graph.dropParents(childId);
      graph.write(out.job);
      graph.writeResult(out.result);
      queue.push({ id: childId, status: out.job.status as "failed" | "cancelled", originId: parent.originId });
    }
  }
}

/** The parents a batch (or reclaim) ended, from the records it wrote: every one in a terminal status, each its own chain's origin. */
export function endedParentsOf(jobs: Iterable<Job>): EndedParent[] {
  const out: EndedParent[] = [];
  for (const job of jobs) {
    const s = job.status;
    if (s === "completed" || s === "failed" || s === "cancelled") out.push({ id: job.id, status: s, originId: job.id });
  }
  return out;
}

/** True when `store` declares the `dependencies` capability. */
export function hasDependencies(store: JobStore): boolean {
  return store.capabilities.dependencies === true;
}
