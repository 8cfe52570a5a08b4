// The FairScheduler as it was before its groups went into heaps: every pop scans every active
// group for the smallest start tag, O(groups). Kept verbatim (class renamed, imports repointed,
// its own copy of the input checks; one rule added since, marked) as the reference the heap version is tested
// against entry for entry (test/fair-scheduler-differential.test.ts) and benchmarked against
// (bench/fair-scheduler.mjs). Not shipped.

import { DuplicateJobError, ValidationError, systemClock, type Clock } from "@pyrexis/models";
import { DEFAULT_AGING_RATE, assertAgingRate, keyMs, scaleOf } from "../../src/aging.js";
import { PriorityScheduler } from "../../src/priority-scheduler.js";
import type { Scheduler, SchedulerEntry } from "../../src/scheduler.js";

/** An entry of a {@link FairScheduler}: a scheduler entry with an optional group and lane. */
export interface FairEntry extends SchedulerEntry {
  /** Fair-sharing group (tenant); absent: the default group `""`. */
  readonly group?: string | undefined;
  /** Lane inside the group; entries of one lane pop in order (a refused head holds its lane only). Absent: `""`. */
  readonly lane?: string | undefined;
}

/** Largest weight of a group. */
export const MAX_GROUP_WEIGHT = 1_000_000;

/** Options of {@link FairScheduler}. */
export interface FairSchedulerOptions {
  /** Aging of every lane, priority points per second of waiting (default {@link DEFAULT_AGING_RATE}). */
  readonly agingRate?: number | undefined;
  /** Source of "now" for `enqueuedAt` defaults and due checks. Default `systemClock`. */
  readonly clock?: Pick<Clock, "now"> | undefined;
  /** Dispatch weight per group (positive, at most {@link MAX_GROUP_WEIGHT}); unnamed groups get `defaultWeight`. */
  readonly weights?: Readonly<Record<string, number>> | undefined;
  /** Weight of a group not in `weights` (default 1). */
  readonly defaultWeight?: number | undefined;
}

/** One lane of a group. */
interface Lane<T extends SchedulerEntry> {
  readonly name: string;
  readonly group: Group<T>;
  readonly queue: PriorityScheduler<T>;
  /** Creation order inside the group: breaks ties between lane heads with equal keys. */
  readonly order: number;
}

/** One group's state. */
interface Group<T extends SchedulerEntry> {
  readonly name: string;
  readonly cost: number;
  /** Virtual finish tag of its last dispatch. */
  finish: number;
  /** Stamp of its creation or last dispatch: among equal start tags the older stamp goes first. */
  stamp: number;
  readonly lanes: Lane<T>[];
  size: number;
  /** The `popWhere` call that last visited it (a group is visited once per call). */
  visited: number;
}

function checkWeight(value: unknown, path: (string | number)[]): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0 || value > MAX_GROUP_WEIGHT) {
    const message = `must be a number > 0 and at most ${MAX_GROUP_WEIGHT}`;
    throw new ValidationError(`group weight ${path.join(".")} ${message}, got ${String(value)}`, [{ path, message }]);
  }
  return value;
}

/**
 * Checks group weights (positive finite numbers up to {@link MAX_GROUP_WEIGHT}) and returns a
 * frozen copy; throws `ValidationError` naming the group.
 */
export function checkGroupWeights(weights: unknown, path: string = "weights"): Readonly<Record<string, number>> {
  if (weights === undefined) return Object.freeze({});
  if (typeof weights !== "object" || weights === null || Array.isArray(weights)) {
    throw new ValidationError(`${path} must be an object of group → weight`, [{ path: [path], message: "must be an object" }]);
  }
  const out: Record<string, number> = {};
  for (const [group, w] of Object.entries(weights)) out[group] = checkWeight(w, [path, group]);
  return Object.freeze(out);
}

/**
 * A {@link Scheduler} that shares dispatches among groups by weight (start-time weighted fair
 * queuing) and orders each group's entries by priority with aging, as {@link PriorityScheduler}
 * does. Groups weighted 3:2:1 that all have ready entries get 3:2:1 of the pops; a group that
 * becomes ready is served before any other group is served twice (see the README for the bound).
 *
 * @example
 * ```ts
 * const s = new FairSchedulerLinear({ weights: { interactive: 3 } });
 * for (let i = 0; i < 1000; i++) s.push({ id: `a${i}`, priority: 5, group: "backfill" });
 * s.push({ id: "b0", priority: 5, group: "interactive" });
 * s.pop()?.id; // "a0" or "b0": b0 pops within one round, not after 1000 backfill entries
 * ```
 */
export class FairSchedulerLinear<T extends FairEntry = FairEntry> implements Scheduler<T> {
  /** Priority points per second of waiting, as configured. */
  readonly agingRate: number;
  readonly #clock: Pick<Clock, "now">;
  readonly #scale: number;
  readonly #weights: Readonly<Record<string, number>>;
  readonly #defaultWeight: number;
  readonly #groups = new Map<string, Group<T>>();
  /** Groups that hold entries (unordered). */
  readonly #active: Group<T>[] = [];
  /** Id → the lane holding it. */
  readonly #where = new Map<string, Lane<T>>();
  /** Start tag of the last dispatch. */
  #virtual = 0;
  #stamp = 0;
  #size = 0;
  #calls = 0;

  constructor(options: FairSchedulerOptions = {}) {
    const agingRate = options.agingRate ?? DEFAULT_AGING_RATE;
    assertAgingRate(agingRate);
    this.agingRate = agingRate;
    this.#scale = scaleOf(agingRate);
    this.#clock = options.clock ?? systemClock;
    this.#weights = checkGroupWeights(options.weights);
    this.#defaultWeight = options.defaultWeight === undefined ? 1 : checkWeight(options.defaultWeight, ["defaultWeight"]);
  }

  /** The weight `group` is served with. */
  weightOf(group: string): number {
    return Object.hasOwn(this.#weights, group) ? (this.#weights[group] as number) : this.#defaultWeight;
  }

  /** Queues `entry` in its group's lane. Throws as {@link PriorityScheduler.push} does; nothing changes on a throw. */
  push(entry: T): void {
    const id = entry.id;
    // Checked here, not by the lane: the entry may name another lane than the one holding the id.
    if (this.#where.has(id)) throw new DuplicateJobError(id);
    const group = this.#groupOf(entry.group ?? "");
    const laneName = entry.lane ?? "";
    let lane: Lane<T> | undefined;
    for (const l of group.lanes) if (l.name === laneName) lane = l;
    if (lane === undefined) {
      lane = {
        name: laneName,
        group,
        queue: new PriorityScheduler<T>({ agingRate: this.agingRate, clock: this.#clock }),
        order: group.lanes.length,
      };
      group.lanes.push(lane);
    }
    lane.queue.push(entry);
    this.#where.set(id, lane);
    if (group.size === 0) this.#active.push(group);
    group.size++;
    this.#size++;
  }

  /** Charges `group` for a dispatch made without queuing: the tags move as for a pop from it. */
  charge(groupName = ""): void {
    const group = this.#groupOf(groupName);
    const start = this.#start(group);
    this.#virtual = start;
    group.finish = start + group.cost;
    group.stamp = ++this.#stamp;
  }

  /** The group named `groupName`, made (again) when needed. */
  #groupOf(groupName: string): Group<T> {
    let group = this.#groups.get(groupName);
    // Added since it was copied, as the rule changed: an idle group whose tag V has passed is
    // forgotten and comes back as a new group.
    if (group !== undefined && group.size === 0 && group.finish <= this.#virtual) {
      this.#groups.delete(groupName);
      group = undefined;
    }
    if (group === undefined) {
      group = { name: groupName, cost: 1 / this.weightOf(groupName), finish: 0, stamp: ++this.#stamp, lanes: [], size: 0, visited: 0 };
      this.#groups.set(groupName, group);
    }
    return group;
  }

  /** Pops the next ready entry: the group with the smallest start tag, its best lane head. */
  pop(): T | undefined {
    return this.popWhere(acceptAll);
  }

  /**
   * Pops the first ready entry, in fair order, that `accept` takes. Groups are visited by start
   * tag; in a group, lane heads by effective priority. A refused head holds its lane for this
   * call; a group none of whose heads is taken is not charged. `accept` may keep state across the
   * heads of one call (e.g. a limit refused to a better entry stays refused to the rest).
   */
  popWhere(accept: (entry: T) => boolean): T | undefined {
    const active = this.#active;
    if (active.length === 0) return undefined;
    if (active.length === 1) return this.#popGroup(active[0] as Group<T>, accept);
    // Groups in start-tag order, picked one at a time: the first is almost always taken, so a
    // sort per pop would be wasted; a refusal costs one more scan.
    const call = ++this.#calls;
    for (let tried = 0; tried < active.length; tried++) {
      let best: Group<T> | undefined;
      let bestStart = 0;
      for (let i = 0; i < active.length; i++) {
        const g = active[i] as Group<T>;
        if (g.visited === call) continue;
        const start = g.finish > this.#virtual ? g.finish : this.#virtual;
        if (best === undefined || start < bestStart || (start === bestStart && g.stamp < best.stamp)) {
          best = g;
          bestStart = start;
        }
      }
      if (best === undefined) return undefined;
      best.visited = call;
      const entry = this.#popGroup(best, accept);
      if (entry !== undefined) return entry;
    }
    return undefined;
  }

  /** The entry {@link pop} would return, without removing it. */
  peek(): T | undefined {
    let best: Group<T> | undefined;
    for (const g of this.#active) {
      if (this.#headOf(g, acceptAll) === undefined) continue;
      if (!best || this.#start(g) < this.#start(best) || (this.#start(g) === this.#start(best) && g.stamp < best.stamp)) best = g;
    }
    return best ? this.#headOf(best, acceptAll)?.queue.peek() : undefined;
  }

  #start(group: Group<T>): number {
    return group.finish > this.#virtual ? group.finish : this.#virtual;
  }

  /** The lane of `group` whose head goes first among those `accept` takes. */
  #headOf(group: Group<T>, accept: (entry: T) => boolean): Lane<T> | undefined {
    const lanes = group.lanes;
    if (lanes.length === 1) {
      const lane = lanes[0] as Lane<T>;
      const head = lane.queue.peek();
      return head !== undefined && accept(head) ? lane : undefined;
    }
    // Heads in effective-priority order (then lane order), each offered to `accept` in turn.
    const heads: { lane: Lane<T>; key: number }[] = [];
    for (const lane of lanes) {
      const head = lane.queue.peek();
      if (head === undefined) continue;
      const readyAt = Math.max(head.enqueuedAt ?? 0, head.runAt ?? 0);
      heads.push({ lane, key: keyMs(head.priority, readyAt, this.#scale) });
    }
    heads.sort((a, b) => b.key - a.key || a.lane.order - b.lane.order);
    for (const { lane } of heads) if (accept(lane.queue.peek() as T)) return lane;
    return undefined;
  }

  #popGroup(group: Group<T>, accept: (entry: T) => boolean): T | undefined {
    const lane = this.#headOf(group, accept);
    if (lane === undefined) return undefined;
    const entry = lane.queue.pop() as T;
    const start = this.#start(group);
    this.#virtual = start;
    group.finish = start + group.cost;
    group.stamp = ++this.#stamp;
    this.#left(entry.id, group);
    return entry;
  }

  #left(id: string, group: Group<T>): void {
    this.#where.delete(id);
    this.#size--;
    if (--group.size === 0) {
      const i = this.#active.indexOf(group);
      this.#active[i] = this.#active[this.#active.length - 1] as Group<T>;
      this.#active.pop();
      // Forgetting an idle group whose tag is behind V loses nothing (it would resume at V):
      // the map does not grow with every tenant ever seen.
      if (group.finish <= this.#virtual) this.#groups.delete(group.name);
    }
  }

  /** Removes an entry by id; true when it was queued. */
  remove(id: string): boolean {
    const lane = this.#where.get(id);
    if (lane === undefined || !lane.queue.remove(id)) return false;
    this.#left(id, lane.group);
    return true;
  }

  /** True when an entry with this id is queued. */
  has(id: string): boolean {
    return this.#where.has(id);
  }

  /** All queued entries. */
  get size(): number {
    return this.#size;
  }

  /** Entries that may pop now (ignoring what `popWhere` would refuse). */
  get readyCount(): number {
    let n = 0;
    for (const g of this.#active) for (const lane of g.lanes) n += lane.queue.readyCount;
    return n;
  }

  /** Earliest `runAt` of a delayed entry that is not yet due, or `undefined`. */
  nextRunAt(): number | undefined {
    let next: number | undefined;
    for (const g of this.#active) {
      for (const lane of g.lanes) {
        const t = lane.queue.nextRunAt();
        if (t !== undefined && (next === undefined || t < next)) next = t;
      }
    }
    return next;
  }

  /** Queued entries of each group that has any. */
  groupSizes(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const g of this.#active) out[g.name] = g.size;
    return out;
  }
}

const acceptAll = (): boolean => true;
