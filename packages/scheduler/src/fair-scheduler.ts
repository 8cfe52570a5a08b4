// Weighted fair queuing among groups (tenants), with the priority-with-aging order inside each.
//
// Each group has a virtual finish tag; a dispatch from group g starts at max(finish_g, V) (V is
// the start tag of the last dispatch) and advances finish_g by 1 / weight_g. The group with the
// smallest start tag goes next. This is start-time fair queuing: a group that was idle (or blocked)
// resumes at V instead of with the credit it "saved", so it cannot burst past the others, and a
// group that just became ready is served before any backlogged group is served twice.
//
// Inside a group, entries sit in lanes (one PriorityScheduler each). A lane pops in its own order;
// `popWhere` may refuse a lane's head (e.g. its rate limit has no room), which holds that lane
// but not the others: the engine puts jobs that use the same limits in one lane.
//
// Finding the smallest start tag is O(log groups), not a scan of every group: active groups sit in
// one of two heaps. A group whose finish tag is at or behind V starts at V, like every other such
// group, so among them only the stamp decides: the "caught-up" heap, by stamp. A group ahead of V
// starts at its finish tag: the "ahead" heap, by (finish, stamp). Every caught-up group goes before
// every group ahead (V < finish), so the next group is the top of the first non-empty heap. V only
// moves on a dispatch, and only forward; then the ahead groups it has reached move across (each
// at most once per dispatch of its own, so O(log groups) amortised). The order is exactly that of
// comparing (max(finish, V), stamp) over all active groups, which a scan does.
//
// With few groups that scan is cheaper than keeping the heaps (bench/fair-scheduler.mjs: at 10
// groups the heaps were 0.8–1.0× the scan's speed, at 1,000 groups 2.4–12×), so the scheduler
// scans while fewer than HEAP_FROM groups are active and builds the heaps when that many are. It
// scans again once fewer than SCAN_BELOW are: the gap keeps a count that hovers at the line from
// rebuilding heaps on every push. Both ways give the same order; only the cost differs.

import { DuplicateJobError, ValidationError, systemClock, type Clock } from "@pyrexis/models";
import { DEFAULT_AGING_RATE, assertAgingRate, keyMs, scaleOf } from "./aging.js";
import { GroupHeap } from "./group-heap.js";
import { PriorityScheduler } from "./priority-scheduler.js";
import { MIN_CAPACITY } from "./slot-heap.js";
import type { Scheduler, SchedulerEntry } from "./scheduler.js";

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

/** Active groups at which the scan gives way to heaps. */
const HEAP_FROM = 64;
/** Active groups below which the heaps give way to the scan again. */
const SCAN_BELOW = 32;
/** Known groups at which a new one first makes the scheduler drop the forgotten ones (then twice what is left). */
const SWEEP_FROM = 1024;
/**
 * Empty lane queues kept for reuse. A group is forgotten each time it goes idle behind V, which in
 * an engine whose queue keeps running dry happens every few dozen jobs; a fresh PriorityScheduler
 * is some twenty typed arrays, so making one per comeback cost more than the dispatches in between.
 */
const SPARE_QUEUES = 16;

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
  /** The heap holding it (caught-up or ahead), `undefined` while idle or being visited by `popWhere`. */
  heap: GroupHeap<Group<T>> | undefined;
  heapIndex: number;
  /** Its key on that heap: its finish tag on the ahead heap, −∞ on the caught-up one (by stamp alone). */
  heapKey: number;
  /** Its index in the active list, for an O(1) swap-remove. */
  activeIndex: number;
  /** While scanning: the `popWhere` call that last visited it (a group is visited once per call). */
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
 * const s = new FairScheduler({ weights: { interactive: 3 } });
 * for (let i = 0; i < 1000; i++) s.push({ id: `a${i}`, priority: 5, group: "backfill" });
 * s.push({ id: "b0", priority: 5, group: "interactive" });
 * s.pop()?.id; // "a0" or "b0": b0 pops within one round, not after 1000 backfill entries
 * ```
 */
export class FairScheduler<T extends FairEntry = FairEntry> implements Scheduler<T> {
  /** Priority points per second of waiting, as configured. */
  readonly agingRate: number;
  readonly #clock: Pick<Clock, "now">;
  readonly #scale: number;
  readonly #weights: Readonly<Record<string, number>>;
  readonly #defaultWeight: number;
  readonly #groups = new Map<string, Group<T>>();
  /** Groups that hold entries, in no order: what the scan scans, and what `groupSizes` lists. */
  readonly #active: Group<T>[] = [];
  /** True while the active groups are kept in the two heaps below (else they are scanned). */
  #heaped = false;
  /** Active groups with finish ≤ V, by stamp. */
  readonly #caughtUp = new GroupHeap<Group<T>>();
  /** Active groups with finish > V, by (finish, stamp). */
  readonly #ahead = new GroupHeap<Group<T>>();
  /** Groups taken off their heaps by the `popWhere` or `peek` in progress, put back at its end. */
  readonly #visited: Group<T>[] = [];
  /** Id → the lane holding it. */
  readonly #where = new Map<string, Lane<T>>();
  /** Empty queues of forgotten groups' lanes, for new lanes (at most {@link SPARE_QUEUES}). */
  readonly #spareQueues: PriorityScheduler<T>[] = [];
  /** Start tag of the last dispatch. */
  #virtual = 0;
  #stamp = 0;
  #size = 0;
  #calls = 0;
  /** Known groups at which the next new group sweeps out the forgotten ones. */
  #sweepAt = SWEEP_FROM;

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
        queue: this.#spareQueues.pop() ?? new PriorityScheduler<T>({ agingRate: this.agingRate, clock: this.#clock }),
        order: group.lanes.length,
      };
      group.lanes.push(lane);
    }
    lane.queue.push(entry);
    this.#where.set(id, lane);
    if (group.size === 0) {
      group.activeIndex = this.#active.length;
      this.#active.push(group);
      if (this.#heaped) this.#place(group);
      else if (this.#active.length >= HEAP_FROM) this.#useHeaps(true);
    }
    group.size++;
    this.#size++;
  }

  /**
   * Charges `group` (default `""`) for one dispatch made without queuing: an entry that started at
   * once because it did not have to wait. The group's tag and the virtual time move exactly as a
   * pop of an entry of that group moves them, so a group that starts work this way still pays for
   * it in the fair order of the work that waits later.
   */
  charge(group = ""): void {
    const g = this.#groupOf(group);
    // An active group sits on a heap by its tag: take it off while the tag moves.
    const placed = g.size !== 0 && this.#heaped;
    if (placed) g.heap?.delete(g);
    this.#dispatch(g);
    if (placed) this.#place(g);
  }

  /** The state of group `name`, made (or made again, once forgotten) when needed. */
  #groupOf(name: string): Group<T> {
    let group = this.#groups.get(name);
    // An idle group is forgotten once V has passed its tag (it would resume at V anyway): it
    // comes back as a new group, whenever its map entry is dropped. Still in the map, it is
    // made new in place (the map's order is never read).
    if (group !== undefined && group.size === 0 && group.finish <= this.#virtual) {
      this.#spareLanes(group);
      group.lanes.length = 0;
      group.finish = 0;
      group.stamp = ++this.#stamp;
    } else if (group === undefined) {
      if (this.#groups.size >= this.#sweepAt) this.#sweep();
      group = {
        name,
        cost: 1 / this.weightOf(name),
        finish: 0,
        stamp: ++this.#stamp,
        lanes: [],
        size: 0,
        heap: undefined,
        heapIndex: -1,
        heapKey: 0,
        activeIndex: -1,
        visited: 0,
      };
      this.#groups.set(name, group);
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
    return this.#heaped ? this.#popHeaped(accept) : this.#popScanned(accept);
  }

  /** The entry {@link pop} would return, without removing it. */
  peek(): T | undefined {
    return this.#heaped ? this.#peekHeaped() : this.#peekScanned();
  }

  #popScanned(accept: (entry: T) => boolean): T | undefined {
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

  #peekScanned(): T | undefined {
    let best: Group<T> | undefined;
    for (const g of this.#active) {
      if (this.#headOf(g, acceptAll) === undefined) continue;
      if (!best || this.#start(g) < this.#start(best) || (this.#start(g) === this.#start(best) && g.stamp < best.stamp)) best = g;
    }
    return best ? this.#headOf(best, acceptAll)?.queue.peek() : undefined;
  }

  #popHeaped(accept: (entry: T) => boolean): T | undefined {
    // Groups in start-tag order, each taken off its heap while visited: a refused group is put
    // back with its key unchanged, so it keeps its place. The first group is almost always
    // taken, so it skips the list of visited groups.
    const first = this.#next();
    if (first === undefined) return undefined;
    let entry = this.#popGroup(first, accept);
    if (entry !== undefined) {
      if (first.size !== 0) this.#place(first);
      return entry;
    }
    const visited = this.#visited;
    visited.push(first);
    for (let group = this.#next(); group !== undefined; group = this.#next()) {
      visited.push(group);
      entry = this.#popGroup(group, accept);
      if (entry !== undefined) break;
    }
    this.#restore();
    return entry;
  }

  #peekHeaped(): T | undefined {
    let lane: Lane<T> | undefined;
    for (let group = this.#next(); group !== undefined; group = this.#next()) {
      this.#visited.push(group);
      lane = this.#headOf(group, acceptAll);
      if (lane !== undefined) break;
    }
    this.#restore();
    return lane?.queue.peek();
  }

  /** Takes the group with the smallest (start tag, stamp) off its heap. */
  #next(): Group<T> | undefined {
    return this.#caughtUp.size !== 0 ? this.#caughtUp.pop() : this.#ahead.pop();
  }

  /** Puts the groups visited by this call back on their heaps (those that still hold entries). */
  #restore(): void {
    const visited = this.#visited;
    for (let i = 0; i < visited.length; i++) {
      const group = visited[i] as Group<T>;
      if (group.size !== 0 && group.heap === undefined) this.#place(group);
    }
    visited.length = 0;
  }

  /** Puts an active group on the heap its finish tag says (while heaped). */
  #place(group: Group<T>): void {
    // A dispatch in #popHeaped may have emptied enough groups to go back to scanning.
    if (!this.#heaped) return;
    if (group.finish > this.#virtual) {
      group.heapKey = group.finish;
      this.#ahead.push(group);
    } else {
      // All caught-up groups start at V: the stamp alone orders them.
      group.heapKey = Number.NEGATIVE_INFINITY;
      this.#caughtUp.push(group);
    }
  }

  /** Builds the heaps from the active groups (from scratch: nothing is trusted from before), or drops them to scan. */
  #useHeaps(on: boolean): void {
    this.#caughtUp.clear();
    this.#ahead.clear();
    this.#heaped = on;
    if (on) for (const group of this.#active) this.#place(group);
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
    this.#dispatch(group);
    this.#left(entry.id, group);
    return entry;
  }

  /** Moves the tags for one dispatch from `group` (off its heap, if it was on one). */
  #dispatch(group: Group<T>): void {
    const start = this.#start(group);
    this.#virtual = start;
    group.finish = start + group.cost;
    group.stamp = ++this.#stamp;
    // V moved on: the groups ahead that it has reached now start at V, ordered by stamp.
    const ahead = this.#ahead;
    for (let g = ahead.peek(); g !== undefined && g.finish <= start; g = ahead.peek()) {
      ahead.pop();
      g.heapKey = Number.NEGATIVE_INFINITY;
      this.#caughtUp.push(g);
    }
  }

  #left(id: string, group: Group<T>): void {
    this.#where.delete(id);
    this.#size--;
    if (--group.size === 0) {
      // Swap-remove, as the scan's list did (groupSizes lists groups in this order).
      const active = this.#active;
      const last = active.pop() as Group<T>;
      if (last !== group) {
        active[group.activeIndex] = last;
        last.activeIndex = group.activeIndex;
      }
      group.heap?.delete(group);
      if (this.#heaped && active.length < SCAN_BELOW) this.#useHeaps(false);
      // Forgetting an idle group whose tag is behind V loses nothing (it would resume at V):
      // the map does not grow with every tenant ever seen.
      if (group.finish <= this.#virtual) this.#forget(group);
    }
  }

  /**
   * Drops an idle group (it comes back as a new one) and keeps its empty lane queues for reuse:
   * an emptied PriorityScheduler orders exactly as a new one does.
   */
  #forget(group: Group<T>): void {
    this.#groups.delete(group.name);
    this.#spareLanes(group);
  }

  /**
   * Keeps the (empty) queues of an idle group's lanes for new lanes, those that never grew: a
   * queue keeps the tables of the most entries it held, which a spare must not pin.
   */
  #spareLanes(group: Group<T>): void {
    for (const lane of group.lanes) {
      if (this.#spareQueues.length < SPARE_QUEUES && lane.queue.slotCapacity <= MIN_CAPACITY) this.#spareQueues.push(lane.queue);
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

  /**
   * Groups the scheduler keeps state for: those with entries, and idle ones whose tag is still
   * ahead of the virtual time (or not yet swept). Bounded by about twice the groups that were
   * active lately, however many tenants have come and gone.
   */
  get knownGroups(): number {
    return this.#groups.size;
  }

  /** Drops the forgotten groups (idle, tag not ahead of V); the next sweep waits until twice as many are known. */
  #sweep(): void {
    for (const g of this.#groups.values()) if (g.size === 0 && g.finish <= this.#virtual) this.#forget(g);
    this.#sweepAt = Math.max(SWEEP_FROM, 2 * this.#groups.size);
  }

  /** Queued entries of each group that has any. */
  groupSizes(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const g of this.#active) out[g.name] = g.size;
    return out;
  }
}

const acceptAll = (): boolean => true;
