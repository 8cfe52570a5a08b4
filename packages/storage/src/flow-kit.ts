// The flow claim's decisions, shared by every store with the flow capability: which due jobs a
// claim admits (limits with room, limits held after a refusal, jobs over capacity) and in which
// order among groups (start-time weighted fair queuing on tags the store keeps). A store gives the
// planner a reader over its state inside the claim's transaction, then writes the plan: the
// claimed records, a window entry per rate and a hold per concurrency cap, the groups' new tags.
import { MAX_LIMIT_UNITS, ValidationError, type Job, type JobLimit } from "@pyrexis/models";
import { checkClaimRequest } from "./claims-kit.js";
import { MAX_FLOW_SCAN, type FlowCharge, type FlowClaimRequest } from "./flow.js";

/** Longest rate window a flow claim accepts: 31 days. */
export const MAX_FLOW_WINDOW_MS: number = 31 * 86_400_000;
/** Largest `maxConcurrent` a flow claim accepts. */
export const MAX_FLOW_CONCURRENCY = 1_000_000;
/** Largest group weight. */
export const MAX_FLOW_WEIGHT = 1_000_000;

/** A checked limit of a flow claim. */
export interface CheckedFlowLimit {
  readonly rate: { readonly units: number; readonly perMs: number } | undefined;
  readonly maxConcurrent: number | undefined;
}

/** A checked flow claim request: limits and weights as maps. */
export interface CheckedFlowClaim extends FlowClaimRequest {
  readonly limitMap: ReadonlyMap<string, CheckedFlowLimit>;
  readonly weightMap: ReadonlyMap<string, number>;
}

function invalid(message: string, path: (string | number)[]): ValidationError {
  return new ValidationError(`claimFlow: ${message}`, [{ path, message }]);
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function checkInt(v: unknown, path: (string | number)[], max: number): number {
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 1 || v > max) {
    throw invalid(`${path.join(".")} must be an integer 1–${max}, got ${String(v)}`, path);
  }
  return v;
}

/** Checks a {@link FlowClaimRequest}; throws `ValidationError` naming the bad field. */
export function checkFlowClaimRequest(request: unknown): CheckedFlowClaim {
  const claim = checkClaimRequest(request);
  const flow = (request as { flow?: unknown }).flow;
  if (!isRecord(flow)) throw invalid("flow must be an object { limits, groupWeights? }", ["flow"]);
  if (!isRecord(flow.limits)) throw invalid("flow.limits must be an object of key → { rate?, maxConcurrent? }", ["flow", "limits"]);
  const limitMap = new Map<string, CheckedFlowLimit>();
  for (const [key, limit] of Object.entries(flow.limits)) {
    const path = ["flow", "limits", key];
    if (key.length === 0 || key.length > 128) throw invalid("a limit key must have 1–128 characters", path);
    if (!isRecord(limit)) throw invalid(`${path.join(".")} must be an object { rate?, maxConcurrent? }`, path);
    let rate: CheckedFlowLimit["rate"];
    if (limit.rate !== undefined) {
      if (!isRecord(limit.rate)) throw invalid(`${path.join(".")}.rate must be an object { units, perMs }`, [...path, "rate"]);
      rate = {
        units: checkInt(limit.rate.units, [...path, "rate", "units"], MAX_LIMIT_UNITS),
        perMs: checkInt(limit.rate.perMs, [...path, "rate", "perMs"], MAX_FLOW_WINDOW_MS),
      };
    }
    const maxConcurrent =
      limit.maxConcurrent === undefined ? undefined : checkInt(limit.maxConcurrent, [...path, "maxConcurrent"], MAX_FLOW_CONCURRENCY);
    if (rate === undefined && maxConcurrent === undefined) throw invalid(`${path.join(".")} must set rate, maxConcurrent or both`, path);
    limitMap.set(key, { rate, maxConcurrent });
  }
  const weightMap = new Map<string, number>();
  if (flow.groupWeights !== undefined) {
    if (!isRecord(flow.groupWeights)) throw invalid("flow.groupWeights must be an object of group → weight", ["flow", "groupWeights"]);
    for (const [group, w] of Object.entries(flow.groupWeights)) {
      if (typeof w !== "number" || !Number.isFinite(w) || w <= 0 || w > MAX_FLOW_WEIGHT) {
        throw invalid(`flow.groupWeights.${group} must be a number in (0, ${MAX_FLOW_WEIGHT}], got ${String(w)}`, [
          "flow",
          "groupWeights",
          group,
        ]);
      }
      weightMap.set(group, w);
    }
  }
  return { ...claim, flow: flow as unknown as FlowClaimRequest["flow"], limitMap, weightMap };
}

/** Checks a {@link FlowCharge}; throws `ValidationError` naming the bad field. */
export function checkFlowCharge(charge: unknown): FlowCharge {
  if (!isRecord(charge)) throw new ValidationError("chargeFlow: the charge must be an object { jobId, version, key, units }");
  const { jobId, version, key, units } = charge;
  if (typeof jobId !== "string" || jobId.length === 0) throw invalid("chargeFlow: jobId must be a non-empty string", ["jobId"]);
  if (typeof version !== "number" || !Number.isSafeInteger(version) || version < 0)
    throw invalid("version must be a non-negative integer", ["version"]);
  if (typeof key !== "string" || key.length === 0) throw invalid("key must be a non-empty string", ["key"]);
  if (typeof units !== "number" || !Number.isSafeInteger(units) || units < 0 || units > MAX_LIMIT_UNITS) {
    throw invalid(`units must be an integer 0–${MAX_LIMIT_UNITS}`, ["units"]);
  }
  return { jobId, version, key, units };
}

/** A group's tags as the store keeps them, per mode. */
export interface FlowGroupTag {
  /** Virtual finish tag of its last pick. */
  readonly finish: number;
  /** The mode's pick counter at its last pick (0: never picked), for ties. */
  readonly stamp: number;
}

/** A mode's fair-queuing clock as the store keeps it. */
export interface FlowModeClock {
  /** Virtual time: the start tag of the mode's last pick. */
  readonly virtual: number;
  /** Picks so far. */
  readonly stamp: number;
}

/** One window entry: admitted at `at` (store clock) with `units`. */
export type FlowWindowEntry = readonly [at: number, units: number];

/**
 * A candidate a reader passed over without reading its record: the limits it uses, which the
 * planner's `refuses` test rejected (see {@link FlowReader.next}).
 */
export interface FlowPassedOver {
  readonly passedOver: readonly JobLimit[];
}

/**
 * A record's `limits` read apart from the record (a store's limits-only read, see
 * {@link FlowReader.next}), from their JSON text, when they have the stored shape: a non-empty
 * array of `{ key, units }` with a string key and a positive integer of units. `undefined` for
 * anything else (no limits, not JSON, another shape): the store then reads the record in full,
 * and the record's reader reports a malformed one.
 */
export function storedLimits(json: string | null): JobLimit[] | undefined {
  if (json === null) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value) || value.length === 0) return undefined;
  for (const l of value as unknown[]) {
    const { key, units } = (l ?? {}) as { key?: unknown; units?: unknown };
    if (typeof key !== "string" || typeof units !== "number" || !Number.isSafeInteger(units) || units < 1) return undefined;
  }
  return value as JobLimit[];
}

/**
 * The text a store keeps beside a job for its limits (`null` without any): JSON in one fixed
 * form (`[{"key":…,"units":…}]`, whatever the key order of the caller's objects), so the same
 * limits always make the same text and an update can compare them in SQL.
 */
export function storedLimitsText(limits: readonly JobLimit[] | undefined): string | null {
  // Records are shape-checked only: a malformed value is kept as it is (it matches no job's).
  if (!Array.isArray(limits)) return limits === undefined ? null : JSON.stringify(limits);
  let text = "[";
  for (let i = 0; i < limits.length; i++) {
    const l: unknown = limits[i];
    if (typeof l !== "object" || l === null) return JSON.stringify(limits);
    const { key, units } = l as JobLimit;
    text += `${i === 0 ? "" : ","}{"key":${JSON.stringify(key)},"units":${JSON.stringify(units)}}`;
  }
  return `${text}]`;
}

/**
 * {@link storedLimits} that parses each distinct text once: candidates mostly share a few
 * limits, so a reader makes one per claim.
 */
export function storedLimitsReader(): (json: string | null) => JobLimit[] | undefined {
  const parsed = new Map<string, JobLimit[] | undefined>();
  return (json) => {
    if (json === null) return undefined;
    if (parsed.has(json)) return parsed.get(json);
    const limits = storedLimits(json);
    parsed.set(json, limits);
    return limits;
  };
}

/** What the planner reads from a store, inside the claim's transaction, for one mode. */
export interface FlowReader {
  /** Groups that may have due jobs in this mode (more is fine; `""` for jobs without a group). */
  groups(): Iterable<string>;
  /**
   * The next due candidate of `group` in claim order (each call advances), or `undefined`.
   *
   * The planner passes `refuses` once the claim holds a limit (a job was refused): a store may
   * then answer, for a candidate whose limits it can read without its record, those limits as a
   * {@link FlowPassedOver} when `refuses(limits)` is true. The planner counts it exactly as the
   * refused job it is. With a full cap and a deep backlog most candidates are such jobs, so a
   * store whose records are costly to read (parsed, or sent over a network) reads their limits
   * only; one that has its records at hand may ignore `refuses`.
   */
  next(group: string, refuses?: (limits: readonly JobLimit[]) => boolean): Job | FlowPassedOver | undefined;
  /** A group's stored tags, or `undefined` when it has none. */
  tag(group: string): FlowGroupTag | undefined;
  /** The mode's stored clock (`{ virtual: 0, stamp: 0 }` when none). */
  clock(): FlowModeClock;
  /**
   * Units admitted under `key` after `since` (`now − perMs` of the claim's limit). The store
   * keeps each key's entries for the longest `perMs` any claim has counted (its retention, which
   * this call may extend) and drops older ones; it keeps their sum, so a claim whose window is
   * that retention reads one number, not a window of entries (a shorter window sums its part).
   */
  windowUnits(key: string, since: number): number;
  /** The entries after `since` behind {@link windowUnits}, oldest first: asked only when a job does not fit (for `retryAt`). */
  windowEntries(key: string, since: number): readonly FlowWindowEntry[];
  /** Holds of `key`: jobs admitted under it that are still `running` with the admitting version. */
  running(key: string): number;
}

/** What a pick was admitted under: a window entry (`rate`) and/or a slot (`slot`) of `key`. */
export interface FlowAdmission {
  readonly key: string;
  readonly units: number;
  readonly rate: boolean;
  readonly slot: boolean;
}

/** One claimed job of a plan. */
export interface FlowPick {
  readonly job: Job;
  /** Empty for a job without limits the claim defines, or over capacity. */
  readonly admissions: readonly FlowAdmission[];
}

/** What a flow claim does, for the store to write. */
export interface FlowPlan {
  readonly picks: FlowPick[];
  /** Groups whose tags changed, with their new tags. */
  readonly tags: ReadonlyMap<string, FlowGroupTag>;
  /** The mode's new clock. */
  readonly clock: FlowModeClock;
  readonly refused: number;
  /** Refused jobs per limit key they use (see {@link FlowClaimResult.waiting}). */
  readonly waiting: ReadonlyMap<string, number>;
  readonly retryAt: number | undefined;
}

/**
 * Adds a plan's {@link FlowPlan.waiting} counts to `into` (a claim's answer, over its modes). Keys
 * are written as own properties: a limit may be named `constructor` or `__proto__`.
 */
export function addWaiting(into: Record<string, number>, plan: FlowPlan): void {
  for (const [key, n] of plan.waiting) addCount(into, key, n);
}

/** `into[key] += n` for any key: an own data property, never an inherited member or the `__proto__` setter. */
export function addCount(into: Record<string, number>, key: string, n: number): void {
  const before = Object.hasOwn(into, key) ? (into[key] as number) : 0;
  Object.defineProperty(into, key, { value: before + n, enumerable: true, writable: true, configurable: true });
}

/** A group while a claim plans. */
interface LiveGroup {
  readonly name: string;
  readonly weight: number;
  finish: number;
  stamp: number;
  /** Its last candidate was refused: other groups go first until every group is deferred. */
  deferred: boolean;
}

/** A key's window while a claim plans: the stored sum plus this claim's admissions. */
interface LiveWindow {
  readonly since: number;
  sum: number;
  /** This claim's admissions (all at `now`). */
  readonly added: FlowWindowEntry[];
}

/** The earliest time at which `units` more fit a window of `perMs` holding `entries` (sum `sum`) under `cap`. */
export function rateFitsAt(entries: readonly FlowWindowEntry[], sum: number, cap: number, units: number, perMs: number): number {
  let left = sum;
  for (const [at, u] of entries) {
    left -= u;
    if (left + units <= cap) return at + perMs;
  }
  return Number.POSITIVE_INFINITY; // over capacity: callers never ask
}

/**
 * Plans one flow claim of one mode at `now`: up to `limit` picks (see the rules of
 * `FlowMethods`). Reads through `reader`; writes nothing.
 */
export function planFlowClaim(reader: FlowReader, request: CheckedFlowClaim, limit: number, now: number): FlowPlan {
  const { limitMap, weightMap } = request;
  const clock = reader.clock();
  let virtual = clock.virtual;
  let stamp = clock.stamp;
  const live: LiveGroup[] = [];
  for (const name of reader.groups()) {
    const tag = reader.tag(name);
    live.push({
      name,
      weight: weightMap.get(name) ?? 1,
      finish: tag?.finish ?? Number.NEGATIVE_INFINITY,
      stamp: tag?.stamp ?? 0,
      deferred: false,
    });
  }
  const windows = new Map<string, LiveWindow>();
  const slotsTaken = new Map<string, number>();
  const held = new Set<string>();
  const tags = new Map<string, FlowGroupTag>();
  const picks: FlowPick[] = [];
  let refused = 0;
  const waiting = new Map<string, number>();
  let retryAt = Number.POSITIVE_INFINITY;

  const windowOf = (key: string, perMs: number): LiveWindow => {
    let w = windows.get(key);
    if (w === undefined) {
      const since = now - perMs;
      w = { since, sum: reader.windowUnits(key, since), added: [] };
      windows.set(key, w);
    }
    return w;
  };
  const slotsOf = (key: string): number => {
    let n = slotsTaken.get(key);
    if (n === undefined) {
      n = reader.running(key);
      slotsTaken.set(key, n);
    }
    return n;
  };

  /** A weight above a rate's capacity can never fit: such a job is handed out (the engine fails it). */
  const overCapacity = (jobLimits: readonly JobLimit[]): boolean => {
    for (const { key, units } of jobLimits) {
      const def = limitMap.get(key);
      if (def?.rate !== undefined && units > def.rate.units) return true;
    }
    return false;
  };
  /** What `admit` answers `undefined` for, without its reads: a held limit refuses any job that uses it. */
  const refuses = (jobLimits: readonly JobLimit[]): boolean => {
    if (overCapacity(jobLimits)) return false;
    for (const { key } of jobLimits) if (held.has(key)) return true;
    return false;
  };

  /** The admissions of a job's limits, `undefined` when a limit has no room (its limits are then held), `[]` over capacity. */
  const admit = (jobLimits: readonly JobLimit[] | undefined): FlowAdmission[] | undefined => {
    if (jobLimits === undefined || jobLimits.length === 0) return [];
    if (overCapacity(jobLimits)) return [];
    let fits = true;
    for (const { key, units } of jobLimits) {
      const def = limitMap.get(key);
      if (def === undefined) continue;
      if (held.has(key)) {
        fits = false;
        continue;
      }
      if (def.rate !== undefined) {
        const w = windowOf(key, def.rate.perMs);
        if (w.sum + units > def.rate.units) {
          fits = false;
          const entries = [...reader.windowEntries(key, w.since), ...w.added];
          retryAt = Math.min(retryAt, rateFitsAt(entries, w.sum, def.rate.units, units, def.rate.perMs));
        }
      }
      if (def.maxConcurrent !== undefined && slotsOf(key) >= def.maxConcurrent) fits = false;
    }
    if (!fits) {
      for (const { key } of jobLimits)
        if (limitMap.has(key)) {
          held.add(key);
          waiting.set(key, (waiting.get(key) ?? 0) + 1);
        }
      return undefined;
    }
    const out: FlowAdmission[] = [];
    for (const { key, units } of jobLimits) {
      const def = limitMap.get(key);
      if (def === undefined) continue;
      if (def.rate !== undefined) {
        const w = windowOf(key, def.rate.perMs);
        w.added.push([now, units]);
        w.sum += units;
      }
      if (def.maxConcurrent !== undefined) slotsTaken.set(key, slotsOf(key) + 1);
      out.push({ key, units, rate: def.rate !== undefined, slot: def.maxConcurrent !== undefined });
    }
    return out;
  };

  while (picks.length < limit && refused < MAX_FLOW_SCAN && live.length > 0) {
    // The group with the smallest start tag; ties to the least recently picked, then by name. A
    // group whose candidate was just refused waits until every group has had a candidate looked
    // at: its later jobs may not use the held limits, but other groups' jobs go first.
    let best = -1;
    for (let i = 0; i < live.length; i++) {
      const c = live[i] as LiveGroup;
      if (!c.deferred && (best < 0 || before(c, live[best] as LiveGroup, virtual))) best = i;
    }
    if (best < 0) {
      for (const c of live) c.deferred = false;
      continue;
    }
    const g = live[best] as LiveGroup;
    const candidate = reader.next(g.name, held.size > 0 ? refuses : undefined);
    if (candidate === undefined) {
      live.splice(best, 1);
      continue;
    }
    const passedOver = "passedOver" in candidate;
    const admissions = admit(passedOver ? candidate.passedOver : candidate.limits);
    if (admissions === undefined) {
      refused++;
      g.deferred = true;
      continue;
    }
    // `refuses` agreed with `admit` when the store asked it; a store that answers a candidate
    // `refuses` rejects has broken the reader's rule.
    if (passedOver) throw new TypeError("planFlowClaim: the reader passed over a candidate that fits");
    const job = candidate;
    for (const c of live) c.deferred = false;
    const start = Math.max(virtual, g.finish);
    virtual = start;
    g.finish = start + 1 / g.weight;
    g.stamp = ++stamp;
    tags.set(g.name, { finish: g.finish, stamp: g.stamp });
    picks.push({ job, admissions });
  }
  return {
    picks,
    tags,
    clock: { virtual, stamp },
    refused,
    waiting,
    retryAt: retryAt === Number.POSITIVE_INFINITY ? undefined : retryAt,
  };
}

function before(a: LiveGroup, b: LiveGroup, virtual: number): boolean {
  const sa = Math.max(virtual, a.finish);
  const sb = Math.max(virtual, b.finish);
  if (sa !== sb) return sa < sb;
  if (a.stamp !== b.stamp) return a.stamp < b.stamp;
  return a.name < b.name;
}
