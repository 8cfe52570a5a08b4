/**
 * The JobStore conformance suite: how every store, ours and third-party, proves it meets the
 * contract of `@pyrexis/storage`. It does not import a test framework; pass yours.
 *
 * @example
 * ```ts
 * // test/my-store.test.ts
 * import { describe, it, beforeEach, afterEach } from "vitest";
 * import { describeJobStore } from "@pyrexis/storage/conformance";
 * import { MyStore } from "../src/index.js";
 *
 * describeJobStore({ describe, it, beforeEach, afterEach }, { name: "MyStore", create: async () => MyStore.open() });
 *
 * // A store with claims judges time by the suite's clock; a shared one gets a second handle:
 * describeJobStore(
 *   { describe, it, beforeEach, afterEach },
 *   {
 *     name: "MyStore",
 *     create: async (options) => MyStore.open({ clock: options?.clock }),
 *     openSecond: async (store, options) => MyStore.open({ path: (store as MyStore).path, clock: options?.clock }),
 *   },
 * );
 * ```
 *
 * @packageDocumentation
 */
import { argumentChecks } from "./arguments.js";
import { closeSemantics } from "./close.js";
import { commitRules } from "./commit-rules.js";
import { concurrency } from "./concurrency.js";
import { counts } from "./counts.js";
import { dependencies } from "./dependencies.js";
import { claims } from "./claims.js";
import { flow } from "./flow.js";
import { checkSuiteArgs, resolveSeed, type JobStoreFactory, type TestApi } from "./harness.js";
import { listing } from "./listing.js";
import { persistence } from "./persistence.js";
import { prune } from "./prune.js";
import { queryJobs } from "./query.js";
import { roundTrips } from "./round-trips.js";
import { schedules } from "./schedules.js";
import { shared } from "./shared.js";

export { BASE_TIME, bump, makeJob, makeResult } from "./data.js";
export {
  CLAIMS_START,
  Rng,
  type ClaimsHarness,
  type Harness,
  type JobStoreFactory,
  type StoreOpenOptions,
  type TestApi,
  type TestContext,
  type TestFn,
} from "./harness.js";

/**
 * One group of conformance tests: registers a `describe` block of tests on `api` for the stores
 * `factory` makes. Throws a `TypeError` naming what is missing when an argument is wrong.
 */
export type ConformanceGroup = (api: TestApi, factory: JobStoreFactory) => void;

function group(fnName: string, impl: (api: TestApi, factory: JobStoreFactory, seed: number) => void): ConformanceGroup {
  return (api, factory) => {
    checkSuiteArgs(api, factory, fnName);
    impl(api, factory, resolveSeed(factory));
  };
}

/** Round trips of every field (unicode, multi-MB and deeply nested payloads, absent vs present optional fields) and copy/freeze safety. */
export const describeRoundTrips: ConformanceGroup = group("describeRoundTrips", roundTrips);
/** All-or-nothing batches, the error of each violation, compare-and-set, write-once results, a seeded fault-injection run against a model. */
export const describeCommitRules: ConformanceGroup = group("describeCommitRules", commitRules);
/** Ordering, limits, status filters and keyset cursors with writes between pages. */
export const describeListing: ConformanceGroup = group("describeListing", listing);
/** `countByStatus`: every status key, exact after inserts, updates and rejected batches. */
export const describeCounts: ConformanceGroup = group("describeCounts", counts);
/** `close()`: idempotent; afterwards every method rejects with `StoreClosedError`. */
export const describeCloseSemantics: ConformanceGroup = group("describeCloseSemantics", closeSemantics);
/** Data survives close + `factory.reopen` (runs when `reopen` is given; else checks `persistent` is not declared). */
export const describePersistence: ConformanceGroup = group("describePersistence", persistence);
/** Commits started together: one winner per conflict, losers write nothing, disjoint work lands. */
export const describeConcurrency: ConformanceGroup = group("describeConcurrency", concurrency);
/** `ValidationError` for non-string ids and a missing batch. */
export const describeArgumentChecks: ConformanceGroup = group("describeArgumentChecks", argumentChecks);
/**
 * The claims capability on fake time (`factory.create({ clock })`): request validation, claim
 * order against the kit's `compareClaimOrder`, due-ness and filters, the claimed record and lease,
 * exclusive concurrent claims (seeded rounds), renewal, reclaim, fencing, release, lease owners,
 * change marks, close, leases across reopen. Each case is skipped unless the store declares
 * `capabilities.claims`; one case checks that the declaration and the methods agree.
 */
export const describeClaims: ConformanceGroup = group("describeClaims", claims);
/**
 * The flow capability on fake time: admission by rate and concurrency across claims, held limits,
 * over-capacity jobs, weighted fair shares between groups from tags kept in the store, charges,
 * concurrent flow claims, state across handles and reopen. Each case is skipped unless the store
 * declares `capabilities.flow`.
 */
export const describeFlow: ConformanceGroup = group("describeFlow", flow);
/**
 * Two handles on one store's data (`factory.openSecond`, given exactly when the store declares
 * `capabilities.shared`): commits seen through the other handle, one winner per conflict across
 * handles, and with claims, exclusive claims and leases across handles.
 */
export const describeShared: ConformanceGroup = group("describeShared", shared);

/**
 * The `queryJobs` capability (filters by handler, mode, priority and creation time). Not part of
 * {@link describeJobStore}: call it for a store that declares `capabilities.queryJobs`; its
 * first check fails for one that does not.
 */
export const describeQueryJobs: ConformanceGroup = group("describeQueryJobs", queryJobs);

/**
 * The `prune` capability (deleting finished jobs and their results in bounded batches): only
 * terminal jobs go, results with them, paging stays consistent, concurrent prunes are safe, bad
 * requests delete nothing. Part of {@link describeJobStore}; each case is skipped unless the
 * store declares `capabilities.prune`.
 */
export const describePrune: ConformanceGroup = group("describePrune", prune);

/**
 * The `dependencies` capability (jobs that wait for other jobs): waiting dependents, unknown
 * parents and cycles refused whole, release by the last completed parent, the failure policy
 * transitively, no claim of a waiting job, reclaims, reopening, and races across two handles.
 * Part of {@link describeJobStore}; each case is skipped unless the store declares
 * `capabilities.dependencies`.
 */
export const describeDependencies: ConformanceGroup = group("describeDependencies", dependencies);

/**
 * The `schedules` capability (cron schedules and their last tick). Not part of
 * {@link describeJobStore}: call it for a store that declares `capabilities.schedules`; its
 * first check fails for one that does not. Uses `factory.reopen` and `factory.openSecond` when
 * the store declares `persistent` and `shared`.
 */
export const describeSchedules: ConformanceGroup = group("describeSchedules", schedules);

/**
 * The whole suite: every group above inside one `describe("JobStore conformance: <name>")`.
 * Prints the seed of the randomized tests; replay a failure with `PYREXIS_CONFORMANCE_SEED=<seed>`
 * or `factory.seed`.
 */
export function describeJobStore(api: TestApi, factory: JobStoreFactory): void {
  checkSuiteArgs(api, factory, "describeJobStore");
  const seed = resolveSeed(factory);
  api.describe(`JobStore conformance: ${factory.name} (seed ${seed})`, () => {
    roundTrips(api, factory, seed);
    commitRules(api, factory, seed);
    listing(api, factory, seed);
    counts(api, factory, seed);
    closeSemantics(api, factory, seed);
    persistence(api, factory, seed);
    concurrency(api, factory, seed);
    argumentChecks(api, factory, seed);
    claims(api, factory, seed);
    flow(api, factory, seed);
    shared(api, factory, seed);
    prune(api, factory, seed);
    dependencies(api, factory, seed);
  });
}
