import assert from "node:assert/strict";
import { JOB_STATUSES, ManualClock, type Clock, type Job, type JobStatus, type Result } from "@pyrexis/models";
import { DEFAULT_CLAIM_AGING_RATE } from "../claims-kit.js";
import { hasClaims, type ClaimsJobStore } from "../claims.js";
import type { JobStore, StoreCapabilities } from "../job-store.js";
import { BASE_TIME } from "./data.js";

/** A test body; may return a promise. */
export type TestFn = () => unknown;

/**
 * The slice of a running test's context the suite uses: vitest and node:test pass one to the
 * test function. A case that does not apply to the store (e.g. a claims case for a store without
 * `capabilities.claims`) calls `skip()` when it is there, so it is reported as skipped; where it
 * is not (jest), the case returns early.
 */
export interface TestContext {
  skip?: ((note?: string) => void) | undefined;
}

/**
 * The slice of a test framework the suite uses. Pass vitest's (or node:test's, or jest's)
 * functions: `{ describe, it, beforeEach, afterEach }`.
 */
export interface TestApi {
  describe(name: string, fn: () => void): unknown;
  it(name: string, fn: (context?: TestContext) => Promise<void>): unknown;
  /** Accepted for symmetry with test frameworks; the suite sets up and tears down inside each test. */
  beforeEach?: ((fn: () => unknown) => unknown) | undefined;
  /** When given, also used to close stores a timed-out test left open. */
  afterEach?: ((fn: () => unknown) => unknown) | undefined;
}

/**
 * What the suite may pass to {@link JobStoreFactory.create}, `reopen` and `openSecond`. A store
 * that declares `capabilities.claims` must honour every option given; other stores may ignore them.
 */
export interface StoreOpenOptions {
  /**
   * The store's clock: what "due" and lease expiry are judged by. The claims cases pass a
   * `ManualClock` and move time with it, never with sleeps.
   */
  readonly clock?: Pick<Clock, "now"> | undefined;
}

/** How the suite gets stores to test. */
export interface JobStoreFactory {
  /** Shown in test names. */
  readonly name: string;
  /** A new, empty store. Called at least once per test. */
  create(options?: StoreOpenOptions): Promise<JobStore>;
  /**
   * Opens the data of `previous` again, after the suite has called `previous.close()`. Give it
   * exactly when the store declares `capabilities.persistent`; the persistence tests need it.
   * `options` are those `previous` was created with.
   */
  reopen?: ((previous: JobStore, options?: StoreOpenOptions) => Promise<JobStore>) | undefined;
  /**
   * A second handle on the data of `store`, open at the same time as it: what another engine
   * (another connection, another process) would see. Give it exactly when the store declares
   * `capabilities.shared`; the `shared` cases need it. A store shared by the engines of one
   * process (like `MemoryJobStore`) may return `store` itself. The suite closes the handle after
   * the test. `options` are those `store` was created with.
   */
  openSecond?: ((store: JobStore, options?: StoreOpenOptions) => Promise<JobStore>) | undefined;
  /**
   * Aging rate of the store's claim order, priority points per second waited. Default 0.1, the
   * default of every store with claims; give it when your factory configures another rate.
   */
  readonly agingRate?: number | undefined;
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
  /** A second handle on the data of `store`, from `factory.openSecond`. */
  openSecond(store: JobStore): Promise<JobStore>;
  /** A seeded random source for this test. */
  readonly rng: Rng;
  /** The test's fake clock, handed to the factory; only in tests on fake time ({@link StoreTestOptions.claims}). */
  readonly clock: ManualClock | undefined;
}

/** A {@link Harness} of a claims case: the store has the claims methods and runs on fake time. */
export interface ClaimsHarness extends Harness {
  readonly store: ClaimsJobStore;
  readonly clock: ManualClock;
  /** Aging rate of the store's claim order (`factory.agingRate`, default 0.1). */
  readonly agingRate: number;
}

/** How {@link storeTest} sets a test up. */
export interface StoreTestOptions {
  /**
   * A claims case: the store is created (and reopened, and opened a second time) with a fresh
   * `ManualClock`; the case is skipped unless the store declares `capabilities.claims`, and fails
   * when it declares it without the claims methods.
   */
  readonly claims?: boolean | undefined;
  /**
   * An optional capability the case is about: skipped unless the store declares
   * `capabilities[name]`, and failed when it declares it without the methods (`present` false).
   */
  readonly capability?: { readonly name: keyof StoreCapabilities; readonly present: (store: JobStore) => boolean } | undefined;
}

/** Where the fake clock of claims cases starts: a day after {@link BASE_TIME}, later than any `makeJob` time. */
export const CLAIMS_START: number = BASE_TIME + 86_400_000;

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
  if (typeof factory !== "object" || factory === null) {
    missing("factory must be an object { name, create, reopen?, openSecond?, cleanup?, seed?, agingRate? }");
  }
  const f = factory as Record<string, unknown>;
  if (typeof f.name !== "string" || f.name.length === 0) missing("factory.name must be a non-empty string");
  if (typeof f.create !== "function") missing("factory.create must be a function (options?) returning Promise<JobStore>");
  for (const k of ["reopen", "openSecond", "cleanup"]) {
    if (f[k] !== undefined && typeof f[k] !== "function") missing(`factory.${k} must be a function when given`);
  }
  if (f.seed !== undefined && !Number.isSafeInteger(f.seed)) missing("factory.seed must be an integer when given");
  if (f.agingRate !== undefined && (typeof f.agingRate !== "number" || !Number.isFinite(f.agingRate) || f.agingRate < 0)) {
    missing("factory.agingRate must be a finite number >= 0 when given");
  }
}

/**
 * Registers one test that gets a fresh store and cleans up after itself: every store it opened
 * (reopened ones and second handles included) is closed, then `factory.cleanup` runs.
 */
export function storeTest(
  api: TestApi,
  factory: JobStoreFactory,
  seed: number,
  title: string,
  body: (h: Harness) => Promise<void>,
  options: StoreTestOptions = {},
): void {
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
  // Rest parameters keep the test function's length 0: jest takes a declared parameter for a
  // `done` callback. vitest and node:test pass their test context as the first argument.
  api.it(title, async (...args: unknown[]) => {
    const context = args[0] as TestContext | undefined;
    cleaned = false;
    try {
      const clock = options.claims === true ? new ManualClock(CLAIMS_START) : undefined;
      const openOptions: StoreOpenOptions | undefined = clock === undefined ? undefined : { clock };
      // The factory's methods get options only when there are some, as before options existed.
      const store = openOptions === undefined ? await factory.create() : await factory.create(openOptions);
      assertIsStore(store, "factory.create()");
      open.push(store);
      if (options.claims === true && store.capabilities.claims !== true) {
        if (typeof context?.skip === "function") context.skip(`${factory.name} does not declare capabilities.claims`);
        return;
      }
      if (options.claims === true && !hasClaims(store)) {
        throw new TypeError(
          `${factory.name}: the store declares capabilities.claims but lacks claim/renewLeases/reclaimExpired/leaseOwners`,
        );
      }
      const capability = options.capability;
      if (capability !== undefined && store.capabilities[capability.name] !== true) {
        if (typeof context?.skip === "function") context.skip(`${factory.name} does not declare capabilities.${capability.name}`);
        return;
      }
      if (capability !== undefined && !capability.present(store)) {
        throw new TypeError(`${factory.name}: the store declares capabilities.${capability.name} but lacks its methods`);
      }
      const harness: Harness = {
        store,
        rng: new Rng(seed ^ hashString(title)),
        clock,
        reopen: async (previous) => {
          if (!factory.reopen) throw new TypeError(`${factory.name}: this test needs factory.reopen`);
          await previous.close();
          const next = openOptions === undefined ? await factory.reopen(previous) : await factory.reopen(previous, openOptions);
          assertIsStore(next, "factory.reopen()");
          open.push(next);
          return next;
        },
        openSecond: async (first) => {
          if (!factory.openSecond) throw new TypeError(`${factory.name}: this test needs factory.openSecond`);
          const second = openOptions === undefined ? await factory.openSecond(first) : await factory.openSecond(first, openOptions);
          assertIsStore(second, "factory.openSecond()");
          open.push(second);
          return second;
        },
      };
      if (clock === undefined) await body(harness);
      else await body({ ...harness, clock, agingRate: factory.agingRate ?? DEFAULT_CLAIM_AGING_RATE } as ClaimsHarness);
    } finally {
      await teardown();
    }
  });
}

/** Registers a claims case: see {@link StoreTestOptions.claims}. */
export function claimsTest(
  api: TestApi,
  factory: JobStoreFactory,
  seed: number,
  title: string,
  body: (h: ClaimsHarness) => Promise<void>,
): void {
  storeTest(api, factory, seed, title, (h) => body(h as ClaimsHarness), { claims: true });
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
