import { hostname } from "node:os";
import { InterruptedError, type Clock, type ClockTimer } from "@pyrexis/models";
import {
  hasFlow,
  MAX_CLAIM_LIMIT,
  MAX_RENEW_BATCH,
  type ClaimedJob,
  type ClaimRequest,
  type ClaimsJobStore,
  type FlowClaimOptions,
  type FlowJobStore,
  type LeaseRef,
  type ReclaimReport,
} from "@pyrexis/storage";
import { addCount } from "@pyrexis/storage/kit";
import type { ClaimSettings } from "./options.js";

/** What the claim source asks of, and tells, the engine. */
export interface ClaimHost {
  /** Modes this engine can run (claims ask for these only). */
  modes(): readonly string[];
  /** How many more jobs of `mode` the engine wants now (free slots plus prefetch, minus what it holds unstarted). */
  want(mode: string): number;
  /** Newly claimed jobs, in claim order; the engine holds them from now on. */
  claimed(claims: readonly ClaimedJob[]): void;
  /**
   * A held job is no longer this engine's: another writer `cancelled` it, or it was reclaimed,
   * changed, or its lease could not be confirmed in time. Abort it and write nothing more.
   */
  lost(jobId: string, version: number, reason: unknown, cancelled: boolean): void;
  /** The store's data may have changed elsewhere (results other engines wrote, cancels). */
  storeChanged(): void;
  /** Jobs reclaimed from dead or expired engines. */
  reclaimed(report: ReclaimReport): void;
  /** A store call failed (reported as `engine:error`). */
  error(error: unknown, context: string): void;
  /** Nothing claimable was found and nothing is held: the engine may be drained. */
  idle(): void;
}

/** One lease this engine holds. */
interface Holding {
  readonly version: number;
  /** Local time by which the lease surely expires at the store: last renewal's send time + leaseMs. */
  deadline: number;
}

/**
 * The dispatch source of an engine on a store with claims: claims jobs in batches when the
 * engine has room (a claim round at a time), renews every held lease with one timer, gives up
 * a job whose lease it could not confirm before it expires, reclaims the jobs of dead or expired
 * engines, and polls the store's change mark to notice work and results written elsewhere.
 * Every timer goes through the engine's clock.
 */
export class ClaimSource {
  readonly #store: ClaimsJobStore;
  readonly #host: ClaimHost;
  readonly #clock: Clock;
  readonly #settings: ClaimSettings;
  readonly #pollMs: number;
  readonly #holdings = new Map<string, Holding>();
  #running = false;
  #claiming: Promise<void> | undefined;
  #claimAgain = false;
  #scheduled = false;
  /** The last claim round found less than it asked for: claim again only when woken. */
  #dry = false;
  #lastClaimAt = 0;
  #renewTimer: ClockTimer | undefined;
  #renewing: Promise<void> | undefined;
  #expiryTimer: ClockTimer | undefined;
  #expiryAt = Number.POSITIVE_INFINITY;
  #pollTimer: ClockTimer | undefined;
  #polling = false;
  #mark: string | number | undefined;
  #keepAlive = false;
  /** Flow claims (the store keeps limits and group shares): the store and what each claim applies. */
  readonly #flow: { readonly store: FlowJobStore; readonly options: FlowClaimOptions } | undefined;
  /** Claims again when a job a rate refused fits its window (the store said when). */
  #retryTimer: ClockTimer | undefined;
  #retryAt = Number.POSITIVE_INFINITY;
  /** Flow claims: per mode, the refused jobs per limit key of its latest claim (`FlowClaimResult.waiting`). */
  readonly #flowWaiting = new Map<string, Readonly<Record<string, number>>>();

  /**
   * With `flow` (on a store with the flow capability), every claim is a flow claim: the store
   * admits jobs by their limits and picks among groups by their shares, across every engine.
   */
  constructor(store: ClaimsJobStore, host: ClaimHost, clock: Clock, settings: ClaimSettings, flow?: FlowClaimOptions) {
    this.#store = store;
    this.#host = host;
    this.#clock = clock;
    this.#settings = settings;
    this.#pollMs = settings.pollIntervalMs ?? (typeof store.changeMark === "function" ? 10 : 250);
    this.#flow = flow !== undefined && hasFlow(store) ? { store, options: flow } : undefined;
  }

  /** True when claims go through the store's flow state (see the constructor). */
  get flowClaims(): boolean {
    return this.#flow !== undefined;
  }

  /**
   * Flow claims: the due jobs this engine's latest claim of each mode found waiting, per limit key
   * (summed over modes). A mode the engine has had no room to claim for keeps its last count.
   */
  flowWaiting(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const byKey of this.#flowWaiting.values()) for (const [key, n] of Object.entries(byKey)) addCount(out, key, n);
    return out;
  }

  /** Leases held now. */
  get heldCount(): number {
    return this.#holdings.size;
  }

  /** True while a claim round is in flight or scheduled. */
  get busy(): boolean {
    return this.#claiming !== undefined || this.#scheduled;
  }

  /** True when the last claim round found nothing more to claim. */
  get dry(): boolean {
    return this.#dry;
  }

  /** Starts renewing, polling and claiming (idempotent). */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#armRenewal();
    this.#armPoll();
    this.request();
  }

  /** Stops claiming and polling; renewal goes on until {@link stopRenewing} (running jobs keep their leases). */
  stopClaiming(): Promise<void> {
    this.#running = false;
    this.#clock.clearTimeout(this.#pollTimer);
    this.#pollTimer = undefined;
    this.#clock.clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.#retryAt = Number.POSITIVE_INFINITY;
    return this.#claiming ?? Promise.resolve();
  }

  /** Stops renewing (after the final flush) and the expiry guard. */
  async stopRenewing(): Promise<void> {
    this.#clock.clearTimeout(this.#renewTimer);
    this.#renewTimer = undefined;
    this.#clock.clearTimeout(this.#expiryTimer);
    this.#expiryTimer = undefined;
    await this.#renewing;
  }

  /** Keeps the process alive while polling (someone waits for a result written elsewhere). */
  setKeepAlive(on: boolean): void {
    this.#keepAlive = on;
  }

  /**
   * Records a lease this engine holds (from a claim sent at `sentAt`). Its deadline counts from
   * the send, not the answer: the store started the lease no earlier than that, so the engine
   * never believes in a lease the store already let expire (a slow answer would stretch it).
   */
  hold(claim: ClaimedJob, sentAt: number): void {
    this.#holdings.set(claim.job.id, { version: claim.lease.version, deadline: sentAt + this.#settings.leaseMs });
  }

  /** The job left this engine (its lease ended by a write, or it was lost): stop renewing it. */
  drop(jobId: string, version: number): void {
    if (this.#holdings.get(jobId)?.version === version) this.#holdings.delete(jobId);
  }

  /** True while `jobId` is held with `version` and its lease is not past its local deadline (safe to start). */
  confirmed(jobId: string, version: number): boolean {
    const h = this.#holdings.get(jobId);
    return h !== undefined && h.version === version && h.deadline > this.#clock.now();
  }

  /**
   * Asks for a claim round soon (coalesced: one round at a time, after the current tick). With
   * `force` false (a slot came free), a store known to be dry is not asked again until a wake-up.
   */
  request(force = true): void {
    if (!force && this.#dry) return;
    this.#dry = false;
    if (!this.#running) return;
    if (this.#claiming) {
      this.#claimAgain = true;
      return;
    }
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      if (this.#running && !this.#claiming) this.#claiming = this.#claimRound().finally(() => this.#afterRound());
    });
  }

  /** Claims once, outside the loop (`runNext`): up to `limit` due jobs, optionally only `ids`. */
  async claimNow(limit: number, ids?: readonly string[]): Promise<readonly ClaimedJob[]> {
    const sentAt = this.#clock.now();
    const claims = await this.#claim({
      owner: this.#settings.owner,
      limit,
      leaseMs: this.#settings.leaseMs,
      modes: this.#host.modes(),
      ...(ids === undefined ? {} : { ids }),
    });
    for (const c of claims) this.hold(c, sentAt);
    if (claims.length > 0) this.#armExpiry();
    return claims;
  }

  #afterRound(): void {
    this.#claiming = undefined;
    if (this.#claimAgain && this.#running) {
      this.#claimAgain = false;
      this.request();
      return;
    }
    this.#claimAgain = false;
    if (this.#dry && this.#holdings.size === 0) this.#host.idle();
  }

  async #claimRound(): Promise<void> {
    this.#lastClaimAt = this.#clock.now();
    let short = false;
    let full = false;
    for (const mode of this.#host.modes()) {
      const want = Math.min(MAX_CLAIM_LIMIT, this.#host.want(mode));
      if (want <= 0) continue;
      let claims: ClaimedJob[];
      const sentAt = this.#clock.now();
      try {
        claims = await this.#claim({ owner: this.#settings.owner, limit: want, leaseMs: this.#settings.leaseMs, modes: [mode] }, mode);
      } catch (error) {
        this.#host.error(error, "claiming jobs from the store failed");
        short = true; // try again on the next poll, not in a tight loop
        continue;
      }
      if (claims.length < want) short = true;
      else full = true;
      if (claims.length === 0) continue;
      for (const c of claims) this.hold(c, sentAt);
      this.#armExpiry();
      // During shutdown the engine hands these back at once.
      this.#host.claimed(claims);
    }
    // A short round means the store had nothing more: wait for a wake-up (a submission, a change
    // mark that moved, a retry coming due). Full rounds repeat while there is room (a backlog).
    if (short) this.#dry = true;
    else if (full) this.#claimAgain = true;
  }

  /**
   * One claim: a flow claim when the store keeps the limits (arming the retry for a rate's
   * refusal, and noting what waits when the claim was for one `mode`), else a plain one.
   */
  async #claim(request: ClaimRequest, mode?: string): Promise<ClaimedJob[]> {
    if (this.#flow === undefined) return this.#store.claim(request);
    const result = await this.#flow.store.claimFlow({ ...request, flow: this.#flow.options });
    if (result.retryAt !== undefined) this.#armRetry(result.retryAt);
    if (mode !== undefined) this.#flowWaiting.set(mode, result.waiting ?? {});
    return result.claimed;
  }

  /**
   * One timer for the earliest time a refused job fits its rate again. The store judges by its
   * clock; the delay assumes the engine's clock agrees with it (the same machine's, or the same
   * injected clock). A cap that frees when a job ends needs no timer: the change mark moves.
   */
  #armRetry(at: number): void {
    if (!this.#running || at >= this.#retryAt) return;
    this.#clock.clearTimeout(this.#retryTimer);
    this.#retryAt = at;
    const timer = this.#clock.setTimeout(
      () => {
        this.#retryTimer = undefined;
        this.#retryAt = Number.POSITIVE_INFINITY;
        this.request();
      },
      Math.max(0, at - this.#clock.now()),
    );
    timer.unref();
    this.#retryTimer = timer;
  }

  // --- renewal and the expiry guard ---

  #armRenewal(): void {
    this.#clock.clearTimeout(this.#renewTimer);
    const timer = this.#clock.setTimeout(() => {
      this.#renewTimer = undefined;
      this.#renewing ??= this.#renewAll().finally(() => (this.#renewing = undefined));
      this.#armRenewal();
    }, this.#settings.renewIntervalMs);
    timer.unref();
    this.#renewTimer = timer;
  }

  /** Renews every held lease (in batches), then reclaims the jobs of dead or expired engines. */
  async #renewAll(): Promise<void> {
    const refs: LeaseRef[] = [];
    for (const [jobId, h] of this.#holdings) refs.push({ jobId, version: h.version });
    for (let i = 0; i < refs.length; i += MAX_RENEW_BATCH) {
      const batch = refs.slice(i, i + MAX_RENEW_BATCH);
      const sentAt = this.#clock.now();
      try {
        const report = await this.#store.renewLeases({ owner: this.#settings.owner, leaseMs: this.#settings.leaseMs, leases: batch });
        const versionOf = new Map(batch.map((r) => [r.jobId, r.version]));
        for (const lease of report.renewed) {
          const h = this.#holdings.get(lease.jobId);
          if (h !== undefined && h.version === lease.version) h.deadline = sentAt + this.#settings.leaseMs;
        }
        for (const id of report.cancelled) this.#lose(id, versionOf.get(id), true);
        for (const id of report.lost) this.#lose(id, versionOf.get(id), false);
        if (report.cancelled.length > 0) this.#host.storeChanged();
      } catch (error) {
        this.#host.error(error, "renewing leases failed; jobs whose lease cannot be confirmed in time will be given up");
      }
    }
    this.#armExpiry();
    if (this.#running) await this.reclaim();
  }

  #lose(jobId: string, version: number | undefined, cancelled: boolean): void {
    const h = this.#holdings.get(jobId);
    if (h === undefined || version === undefined || h.version !== version) return;
    this.#holdings.delete(jobId);
    const reason = cancelled
      ? new InterruptedError(jobId, "it was cancelled by another process")
      : new InterruptedError(jobId, "its lease was lost: another engine or process changed the job");
    this.#host.lost(jobId, version, reason, cancelled);
  }

  /** One timer for the earliest lease deadline: a job not confirmed by then is given up. */
  #armExpiry(): void {
    let earliest = Number.POSITIVE_INFINITY;
    for (const h of this.#holdings.values()) if (h.deadline < earliest) earliest = h.deadline;
    if (earliest === this.#expiryAt && this.#expiryTimer !== undefined) return;
    this.#clock.clearTimeout(this.#expiryTimer);
    this.#expiryTimer = undefined;
    this.#expiryAt = earliest;
    if (earliest === Number.POSITIVE_INFINITY) return;
    const timer = this.#clock.setTimeout(() => {
      this.#expiryTimer = undefined;
      this.#expiryAt = Number.POSITIVE_INFINITY;
      const now = this.#clock.now();
      for (const [jobId, h] of [...this.#holdings]) {
        if (h.deadline > now) continue;
        this.#holdings.delete(jobId);
        this.#host.lost(jobId, h.version, new InterruptedError(jobId, "its lease could not be renewed before it expired"), false);
      }
      this.#armExpiry();
    }, earliest - this.#clock.now());
    timer.unref();
    this.#expiryTimer = timer;
  }

  // --- reclaim ---

  /** Reclaims jobs whose lease expired or whose owner is a dead process of this machine; returns how many. */
  async reclaim(): Promise<number> {
    let total = 0;
    try {
      const deadOwners = await this.#deadOwners();
      for (;;) {
        const report = await this.#store.reclaimExpired({ limit: MAX_CLAIM_LIMIT, deadOwners });
        const n = report.retried.length + report.failed.length;
        if (n === 0) break;
        total += n;
        this.#host.reclaimed(report);
        if (n < MAX_CLAIM_LIMIT) break;
      }
    } catch (error) {
      this.#host.error(error, "reclaiming expired leases failed");
    }
    if (total > 0) this.request();
    return total;
  }

  /** Owners of leases that name this host and a process that no longer exists. */
  async #deadOwners(): Promise<string[]> {
    const owners = await this.#store.leaseOwners();
    const host = hostname();
    const dead: string[] = [];
    for (const owner of owners) {
      if (owner === this.#settings.owner) continue;
      const [ownerHost, pidText] = owner.split("/");
      const pid = Number(pidText);
      if (ownerHost !== host || !Number.isInteger(pid) || pid <= 0) continue;
      if (pid === process.pid) continue; // an engine of this process: alive or expired, not dead
      if (!isAlive(pid)) dead.push(owner);
    }
    return dead;
  }

  // --- polling for changes made elsewhere ---

  #armPoll(): void {
    if (!this.#running && !this.#keepAlive) return;
    const timer = this.#clock.setTimeout(() => {
      this.#pollTimer = undefined;
      void this.#poll().finally(() => this.#armPoll());
    }, this.#pollMs);
    if (!this.#keepAlive) timer.unref();
    this.#pollTimer = timer;
  }

  /** Restarts polling (e.g. a waiter appeared while the engine is not looping). */
  ensurePolling(): void {
    if (this.#pollTimer === undefined && !this.#polling) this.#armPoll();
  }

  async #poll(): Promise<void> {
    this.#polling = true;
    try {
      let changed = true;
      if (typeof this.#store.changeMark === "function") {
        const mark = await this.#store.changeMark();
        changed = mark !== this.#mark;
        this.#mark = mark;
      }
      const idleTooLong = this.#clock.now() - this.#lastClaimAt >= this.#settings.idleClaimIntervalMs;
      if (this.#running && this.#dry && !this.busy && (changed || idleTooLong)) this.request();
      if (changed) this.#host.storeChanged();
    } catch (error) {
      this.#host.error(error, "checking the store for changes failed");
    } finally {
      this.#polling = false;
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
