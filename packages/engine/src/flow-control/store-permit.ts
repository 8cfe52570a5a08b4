// What a job holds when its limits live in the store (a store with the flow capability): the
// store admitted it inside the claim, so there is nothing to take here. Its slot comes back when
// the job leaves `running` (the attempt's committed end, or its lease's expiry); a charge is
// written through to its window entry.
import { LimitCapacityError, type Job, type JobLimit } from "@pyrexis/models";
import type { FlowJobStore } from "@pyrexis/storage";
import type { LimitSettings } from "./limits.js";

/** The permit surface an attempt uses (the local gate's `Permit` and {@link StorePermit}). */
export interface AttemptPermit {
  readonly refused: LimitCapacityError | undefined;
  charge(units: number, key: string | undefined): void;
  release(): void;
  refund(): void;
}

/** What a store permit reports to the engine. */
export interface StorePermitHost {
  readonly store: FlowJobStore;
  readonly limits: ReadonlyMap<string, LimitSettings>;
  /** A charge could not be applied (no such rate limit on the job, or the store refused it). */
  badCharge(jobId: string, message: string): void;
  /** Writing a charge failed. */
  error(error: unknown, context: string): void;
}

/** The first of a job's limits over its rate's capacity here: the job can never start. */
function overCapacity(
  limits: readonly JobLimit[] | undefined,
  settings: ReadonlyMap<string, LimitSettings>,
): LimitCapacityError | undefined {
  if (limits === undefined) return undefined;
  for (let i = 0; i < limits.length; i++) {
    const { key, units } = limits[i] as JobLimit;
    const rate = settings.get(key)?.rate;
    if (rate !== undefined && units > rate.units) return new LimitCapacityError(key, units, rate.units, ["limits", i, "units"]);
  }
  return undefined;
}

/** A store-admitted job's permit: charges go to the store; release and refund have nothing to give back. */
export class StorePermit implements AttemptPermit {
  readonly refused: LimitCapacityError | undefined;
  readonly #host: StorePermitHost;
  readonly #job: Job;
  readonly #version: number;

  constructor(host: StorePermitHost, job: Job, leaseVersion: number) {
    this.#host = host;
    this.#job = job;
    this.#version = leaseVersion;
    this.refused = overCapacity(job.limits, host.limits);
  }

  /** True when `job` needs a permit: it uses a limit this engine defines. */
  static wants(job: Job, limits: ReadonlyMap<string, LimitSettings>): boolean {
    const jl = job.limits;
    if (jl === undefined) return false;
    for (let i = 0; i < jl.length; i++) if (limits.has((jl[i] as JobLimit).key)) return true;
    return false;
  }

  charge(units: number, key: string | undefined): void {
    const id = this.#job.id;
    const target = this.#job.limits?.find((l) => (key === undefined ? this.#host.limits.get(l.key)?.rate !== undefined : l.key === key));
    if (target === undefined || this.#host.limits.get(target.key)?.rate === undefined) {
      this.#host.badCharge(
        id,
        key === undefined
          ? `job ${id} charged ${units} units but uses no limit with a rate`
          : `job ${id} charged ${units} units to limit ${JSON.stringify(key)}, which it does not use with a rate`,
      );
      return;
    }
    this.#host.store.chargeFlow({ jobId: id, version: this.#version, key: target.key, units }).then(
      (applied) => {
        if (!applied)
          this.#host.badCharge(id, `job ${id}: the store has no window entry of limit ${JSON.stringify(target.key)} for this attempt`);
      },
      (error: unknown) => this.#host.error(error, `writing ctx.charge of job ${id} to the store failed`),
    );
  }

  /** Nothing to give back here: the slot comes back in the store when the job leaves `running`. */
  release(): void {}

  /** The job never started: its window entries are credited in full. */
  refund(): void {
    this.creditAll();
  }

  /** Sets every rate admission of the job to 0 units (it was handed back without running). */
  creditAll(): void {
    for (const { key } of this.#job.limits ?? []) {
      if (this.#host.limits.get(key)?.rate === undefined) continue;
      this.#host.store
        .chargeFlow({ jobId: this.#job.id, version: this.#version, key, units: 0 })
        .catch((error: unknown) => this.#host.error(error, `crediting the limits of job ${this.#job.id} in the store failed`));
    }
  }
}
