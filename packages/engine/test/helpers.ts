import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AsyncExecutor, ExecutorRouter, type HandlerMap } from "@pyrexis/executors";
import {
  MemoryJobStore,
  type ClaimedJob,
  type ClaimMethods,
  type ClaimRequest,
  type ClaimsJobStore,
  type JobStore,
  type ReclaimReport,
  type ReclaimRequest,
  type RenewReport,
  type RenewRequest,
} from "@pyrexis/storage";
import { Engine, type EngineOptions } from "../src/index.js";

/** An engine on the real async executor with inline handlers. */
export function engineWith(handlers: HandlerMap, options: Partial<EngineOptions> & { store?: JobStore } = {}): Engine {
  const executors = new ExecutorRouter({ async: new AsyncExecutor({ handlers }) });
  return new Engine({
    // The store judges "due" and orders claims: by the engine's clock and aging rate, as in production.
    store:
      options.store ??
      new MemoryJobStore({
        ...(options.clock ? { clock: options.clock } : {}),
        ...(options.agingRate !== undefined ? { agingRate: options.agingRate } : {}),
      }),
    executors,
    handlerNames: Object.keys(handlers),
    ...options,
  });
}

/** A temp directory removed by the returned cleanup. */
export function tempDir(prefix = "pyrexis-engine-"): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A promise with its resolve function, for steering handlers from tests. */
export function deferred<T = void>(): { promise: Promise<T>; resolve(v: T): void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Resolves when `predicate` holds, checking after each macrotask (bounded). */
export async function until(predicate: () => boolean | Promise<boolean>, what = "condition", maxTicks = 20_000): Promise<void> {
  for (let i = 0; i < maxTicks; i++) {
    if (await predicate()) return;
    await new Promise((r) => setTimeout(r, 1));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A store wrapper that counts commits and can be told to fail them. */
export class FlakyStore implements JobStore {
  readonly inner: JobStore;
  commits = 0;
  updatesWritten = 0;
  failing: Error | undefined = undefined;
  /** Milliseconds each commit waits before writing (a slow disk or a network store). */
  delayMs = 0;
  /** Milliseconds each commit waits after writing, before it resolves (the write is already visible). */
  delayAfterMs = 0;
  /** Milliseconds `listJobs` waits after taking its snapshot. */
  listDelayMs = 0;
  /** When true, `close()` leaves the inner store open so a test can inspect it afterwards. */
  keepOpen = false;
  constructor(inner: JobStore) {
    this.inner = inner;
  }
  get capabilities(): JobStore["capabilities"] {
    return this.inner.capabilities;
  }
  async commit(batch: Parameters<JobStore["commit"]>[0]): Promise<void> {
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    if (this.failing !== undefined) throw this.failing;
    await this.inner.commit(batch);
    this.commits++;
    this.updatesWritten += batch.update?.length ?? 0;
    if (this.delayAfterMs > 0) await new Promise((r) => setTimeout(r, this.delayAfterMs));
  }
  getJob(id: string): ReturnType<JobStore["getJob"]> {
    return this.inner.getJob(id);
  }
  getResult(id: string): ReturnType<JobStore["getResult"]> {
    return this.inner.getResult(id);
  }
  async listJobs(q?: Parameters<JobStore["listJobs"]>[0]): ReturnType<JobStore["listJobs"]> {
    const page = await this.inner.listJobs(q);
    if (this.listDelayMs > 0) await new Promise((r) => setTimeout(r, this.listDelayMs));
    return page;
  }
  countByStatus(): ReturnType<JobStore["countByStatus"]> {
    return this.inner.countByStatus();
  }
  close(): Promise<void> {
    return this.keepOpen ? Promise.resolve() : this.inner.close();
  }
}

/**
 * A {@link FlakyStore} over a store with claims that forwards them, with faults of its own:
 * failing renewals, and hooks before each claims call.
 */
export class FlakyClaimsStore extends FlakyStore implements ClaimMethods {
  readonly claimsInner: ClaimsJobStore;
  /** When set, `renewLeases` rejects with it. */
  failingRenewals: Error | undefined = undefined;
  renewals = 0;
  claims = 0;
  constructor(inner: ClaimsJobStore) {
    super(inner);
    this.claimsInner = inner;
  }
  async claim(request: ClaimRequest): Promise<ClaimedJob[]> {
    if (this.failing !== undefined) throw this.failing;
    this.claims++;
    return this.claimsInner.claim(request);
  }
  async renewLeases(request: RenewRequest): Promise<RenewReport> {
    this.renewals++;
    if (this.failingRenewals !== undefined) throw this.failingRenewals;
    return this.claimsInner.renewLeases(request);
  }
  reclaimExpired(request: ReclaimRequest): Promise<ReclaimReport> {
    return this.claimsInner.reclaimExpired(request);
  }
  leaseOwners(): Promise<string[]> {
    return this.claimsInner.leaseOwners();
  }
  async changeMark(): Promise<string | number> {
    return (await this.claimsInner.changeMark?.()) ?? 0;
  }
}
