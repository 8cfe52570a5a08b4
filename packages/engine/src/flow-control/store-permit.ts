// What a job holds when its limits live in the store (a store with the flow capability): the
// store admitted it inside the claim, so nothing is decided here. Its slot comes back in the
// store when the job leaves `running`; a charge is written through to its window entry. A local
// permit, recorded without checks, keeps this engine's limit metrics (its share of the work).
import type { Job } from "@pyrexis/models";
import type { FlowJobStore } from "@pyrexis/storage";
import type { Permit } from "./flow-gate.js";
import type { LimitSettings } from "./limits.js";

/** The permit surface an attempt uses (the local gate's `Permit` and {@link StorePermit}). */
export type AttemptPermit = Pick<Permit, "refused" | "charge" | "release" | "refund">;

/** What a store permit needs from the engine. */
export interface StorePermitHost {
  readonly store: FlowJobStore;
  readonly limits: ReadonlyMap<string, LimitSettings>;
  /** The store held no admission for a charge. */
  badCharge(jobId: string, message: string): void;
  /** Writing a charge failed. */
  error(error: unknown, context: string): void;
}

/** The limit a charge of `key` (default: the job's first limit with a rate) applies to, if any. */
function chargedKey(job: Job, key: string | undefined, limits: ReadonlyMap<string, LimitSettings>): string | undefined {
  for (const l of job.limits ?? []) {
    if (limits.get(l.key)?.rate === undefined) continue;
    if (key === undefined || l.key === key) return l.key;
  }
  return undefined;
}

/** Credits every rate admission of a claimed job that never ran (handed back) in the store. */
export function creditInStore(host: StorePermitHost, job: Job, leaseVersion: number): void {
  for (const { key } of job.limits ?? []) {
    if (host.limits.get(key)?.rate === undefined) continue;
    host.store
      .chargeFlow({ jobId: job.id, version: leaseVersion, key, units: 0 })
      .catch((error: unknown) => host.error(error, `crediting the limits of job ${job.id} in the store failed`));
  }
}

/** A store-admitted job's permit: its local stats permit, and charges written to the store. */
export class StorePermit implements AttemptPermit {
  readonly #host: StorePermitHost;
  readonly #local: Permit;
  readonly #job: Job;
  readonly #version: number;

  constructor(host: StorePermitHost, local: Permit, job: Job, leaseVersion: number) {
    this.#host = host;
    this.#local = local;
    this.#job = job;
    this.#version = leaseVersion;
  }

  /** Set when the job's units exceed a limit's capacity here: the engine fails it without running it. */
  get refused(): Permit["refused"] {
    return this.#local.refused;
  }

  /** The handler's real usage: the local stats (which report a charge the job cannot make), then the store's entry. */
  charge(units: number, key: string | undefined): void {
    this.#local.charge(units, key);
    const target = chargedKey(this.#job, key, this.#host.limits);
    if (target === undefined) return;
    const id = this.#job.id;
    this.#host.store.chargeFlow({ jobId: id, version: this.#version, key: target, units }).then(
      (applied) => {
        if (!applied)
          this.#host.badCharge(
            id,
            `job ${id}: the store holds no admission of limit ${JSON.stringify(target)} for this attempt (another attempt holds the job, or it has ended)`,
          );
      },
      (error: unknown) => this.#host.error(error, `writing ctx.charge of job ${id} to the store failed`),
    );
  }

  /** The attempt ended: the local slot back (the store's comes back with the job's end). */
  release(): void {
    this.#local.release();
  }

  /** The job never started: credited here and in the store. */
  refund(): void {
    this.#local.refund();
    creditInStore(this.#host, this.#job, this.#version);
  }
}
