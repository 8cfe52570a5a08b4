import assert from "node:assert/strict";
import { JOB_STATUSES, type Job, type JobStatus, type Result } from "@pyrexis/models";
import type { JobStore } from "../job-store.js";

/** A test body; may return a promise. */
export type TestFn = () => unknown;

/**
 * The slice of a test framework the suite uses. Pass vitest's (or node:test's, or jest's)
 * functions: `{ describe, it, beforeEach, afterEach }`.
 */
export interface TestApi {
  describe(name: string, fn: () => void): unknown;
  it(name: string, fn: () => Promise<void>): unknown;
  /** Accepted for symmetry with test frameworks; the suite sets up and tears down inside each test. */
  beforeEach?: ((fn: () => unknown) => unknown) | undefined;
  /** When given, also used to close stores a timed-out test left open. */
  afterEach?: ((fn: () => unknown) => unknown) | undefined;
}

/** How the suite gets stores to test. */
export interface JobStoreFactory {
  /** Shown in test names. */
  readonly name: string;
  /** A new, empty store. Called at least once per test. */
  create(): Promise<JobStore>;
  /**
   * Opens the data of `previous` again, after the suite has called `previous.close()`. Give it
   * exactly when the store declares `capabilities.persistent`; the persistence tests need it.
   */
  reopen?: ((previous: JobStore) => Promise<JobStore>) | undefined;
  /** Called after each test, once its stores are closed (e.g. to delete temp files). */
  cleanup?: (() => Promise<void>) | undefined;
  /**
   * Seed of the randomized tests. Default: `PYREXIS_CONFORMANCE_SEED` from the environment, else
   * a fixed seed. The seed in use is printed so a failure can be replayed.
   */
  readonly seed?: number | undefined;
}

/** Per-test access to stores. Every store it opens is closed after the test. */
export interface Harness {
  /** The store the test started with. */
  readonly store: JobStore;
  /** Closes `store` (the current one) and opens its data again with `factory.reopen`. */
  reopen(store: JobStore): Promise<JobStore>;
  /** A seeded random source for this test. */
  readonly rng: Rng;
}

const DEFAULT_SEED = 0x5eed_2025;

export function resolveSeed(factory: JobStoreFactory): number {
  if (factory.seed !== undefined) return factory.seed;
  const env = typeof process === "undefined" ? undefined : process.env.PYREXIS_CONFORMANCE_SEED;
  const n = env === undefined ? NaN : Number(env);
  return Number.isSafeInteger(n) ? n : DEFAULT_SEED;
}

/** Throws a TypeError naming whatever is missing from the suite's arguments. */
export function checkSuiteArgs(api: unknown, factory: unknown, fnName: string): asserts api is TestApi {
  const missing = (what: string): never => {
    throw new TypeError(`${fnName}(api, factory): ${what}`);
  };
  if (typeof api !== "object" || api === null) missing("api must be an object { describe, it, beforeEach?, afterEach? }");
  const a = api as Record<string, unknown>;
  if (typeof a.describe !== "function") missing("api.describe must be a function (pass your test framework's describe)");
  if (typeof a.it !== "function") missing("api.it must be a function (pass your test framework's it/test)");
  for (const k of ["beforeEach", "afterEach"]) {
    if (a[k] !== undefined && typeof a[k] !== "function") missing(`api.${k} must be a function when given`);
  }
  if (typeof factory !== "object" || factory === null) missing("factory must be an object { name, create, reopen?, cleanup? }");
  const f = factory as Record<string, unknown>;
  if (typeof f.name !== "string" || f.name.length === 0) missing("factory.name must be a non-empty string");
  if (typeof f.create !== "function") missing("factory.create must be a function returning Promise<JobStore>");
  for (const k of ["reopen", "cleanup"]) {
    if (f[k] !== undefined && typeof f[k] !== "function") missing(`factory.${k} must be a function when given`);
  }
  if (f.seed !== undefined && !Number.isSafeInteger(f.seed)) missing("factory.seed must be an integer when given");
}

/** Registers one test that gets a fresh store and cleans up after itself. */
export function storeTest(api: TestApi, factory: JobStoreFactory, seed: number, title: string, body: (h: Harness) => Promise<void>): void {
  const open: JobStore[] = [];
  let cleaned = true;
  const teardown = async (): Promise<void> => {
    if (cleaned) return;
    cleaned = true;
    const stores = open.splice(0);
    for (const s of stores) {
      try {
        await s.close();
      } catch {
        // A store that fails to close is reported by the close tests, not here.
      }
    }
    await factory.cleanup?.();
  };
  api.afterEach?.(teardown);
  api.it(title, async () => {
    cleaned = false;
    try {
      const store = await factory.create();
      assertIsStore(store, "factory.create()");
      open.push(store);
      const harness: Harness = {
        store,
        rng: new Rng(seed ^ hashString(title)),
        reopen: async (previous) => {
          if (!factory.reopen) throw new TypeError(`${factory.name}: this test needs factory.reopen`);
          await previous.close();
          const next = await factory.reopen(previous);
          assertIsStore(next, "factory.reopen()");
          open.push(next);
          return next;
        },
      };
      await body(harness);
    } finally {
      await teardown();
    }
  });
}

function assertIsStore(store: unknown, from: string): asserts store is JobStore {
  const s = store as Record<string, unknown> | null;
  if (typeof s !== "object" || s === null) throw new TypeError(`${from} must resolve to a JobStore, got ${String(store)}`);
  for (const m of ["commit", "getJob", "getResult", "listJobs", "countByStatus", "close"]) {
    if (typeof s[m] !== "function") throw new TypeError(`${from} resolved to an object without ${m}()`);
  }
  if (typeof s.capabilities !== "object" || s.capabilities === null) throw new TypeError(`${from}: store.capabilities must be an object`);
}

function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** A small seeded PRNG (mulberry32): same seed, same sequence, on every platform. */
export class Rng {
  #state: number;
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

/** Asserts that `promise` rejects with a Pyrexis error of `code` (and `name`), and returns it. */
export async function rejectsWith(promise: Promise<unknown>, name: string, code: string, context = ""): Promise<Record<string, unknown>> {
  let error: unknown;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  const where = context ? ` (${context})` : "";
  assert.ok(error !== undefined, `expected a ${name} rejection${where}, but the promise fulfilled`);
  const e = error as Record<string, unknown>;
  assert.equal(e.code, code, `expected code ${code}${where}, got ${String(e.code)}: ${String(e.message)}`);
  assert.equal(e.name, name, `expected ${name}${where}, got ${String(e.name)}: ${String(e.message)}`);
  assert.ok(error instanceof Error, `the ${name}${where} must be an Error instance`);
  return e;
}

/** Everything observable about a set of ids: their jobs, results and the status counts. */
export interface StoreSnapshot {
  jobs: Record<string, Job | undefined>;
  results: Record<string, Result | undefined>;
  counts: Record<JobStatus, number>;
}

export async function snapshot(store: JobStore, ids: Iterable<string>): Promise<StoreSnapshot> {
  const snap: StoreSnapshot = { jobs: {}, results: {}, counts: await store.countByStatus() };
  for (const id of ids) {
    snap.jobs[id] = plain(await store.getJob(id));
    snap.results[id] = plain(await store.getResult(id));
  }
  return snap;
}

/** A plain (unfrozen, unshared) copy, so later comparisons are not fooled by shared objects. */
export function plain<T>(value: T): T {
  return value === undefined ? value : structuredClone(value);
}

export function assertAllStatusKeys(counts: Record<string, unknown>): void {
  assert.deepEqual(Object.keys(counts).sort(), [...JOB_STATUSES].sort(), "countByStatus must return exactly one key per JobStatus");
  for (const s of JOB_STATUSES)
    assert.ok(Number.isInteger(counts[s]) && (counts[s] as number) >= 0, `count of ${s} must be an integer >= 0`);
}

/** Tries to mutate `target` deeply; a frozen object may throw, which is fine. */
export function tryMutate(mutate: () => void): void {
  try {
    mutate();
  } catch {
    // Frozen records throw in strict mode; either outcome is allowed, the stored data is what counts.
  }
}
