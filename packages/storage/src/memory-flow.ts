// The flow state of a MemoryJobStore created with `flow: true`: window entries and holds per
// limit key, fair-queuing tags per mode and group. The reference for the flow capability: plain
// maps and a scan of the claimable jobs per claim, kept simple rather than fast.
import type { Job } from "@pyrexis/models";
import { claimKey } from "./claims-kit.js";
import type { FlowCharge } from "./flow.js";
import type { CheckedFlowLimit, FlowGroupTag, FlowModeClock, FlowPlan, FlowReader, FlowWindowEntry } from "./flow-kit.js";

/** One admission in a rate window. */
interface WindowRow {
  readonly at: number;
  units: number;
  readonly jobId: string;
  readonly version: number;
}

/** Tags of one mode. */
interface ModeTags {
  clock: FlowModeClock;
  readonly groups: Map<string, FlowGroupTag>;
}

/** Whether the job `jobId` is `running` with `version`. */
export type HoldCheck = (jobId: string, version: number) => boolean;

/** One key's rate window: its entries, oldest first, and their units' sum. */
interface Window {
  readonly rows: WindowRow[];
  /** Index of the oldest entry still kept (entries before it were dropped). */
  head: number;
  /** The units of the kept entries. */
  sum: number;
  /** The longest window any claim has counted for this key: entries are kept that long. */
  keepMs: number;
}

/** The shared flow state of one memory store. */
export class MemoryFlowState {
  readonly #windows = new Map<string, Window>();
  /** Kept entries by key and job (for charges): `${key}\0${jobId}`. */
  readonly #entries = new Map<string, WindowRow>();
  /** Per key: job id → the version of the claim that took the slot. */
  readonly #holds = new Map<string, Map<string, number>>();
  readonly #modes = new Map<string, ModeTags>();
  readonly #holding: HoldCheck;

  constructor(holding: HoldCheck) {
    this.#holding = holding;
  }

  /**
   * A claim counts every rate key it defines, whether or not a candidate uses one: each key's
   * retention grows to the claim's window (see `FlowMethods`, "One key, different windows").
   */
  retain(limits: ReadonlyMap<string, CheckedFlowLimit>, now: number): void {
    for (const [key, def] of limits) if (def.rate !== undefined) this.#prune(key, def.rate.perMs, now);
  }

  /** A reader over this state for one mode's claim at `now`; `candidates` are its due jobs (any order). */
  reader(mode: string, candidates: readonly Job[], agingRate: number, now: number): FlowReader {
    const byGroup = new Map<string, Job[]>();
    for (const job of candidates) {
      const g = job.group ?? "";
      let list = byGroup.get(g);
      if (list === undefined) byGroup.set(g, (list = []));
      list.push(job);
    }
    // Each group's candidates come out in claim order one at a time, from a heap built when the
    // group is first read: a claim reads a few dozen of a backlog that may be tens of thousands,
    // so sorting them all on every claim was most of its cost.
    const ordered = new Map<string, ClaimOrderHeap>();
    const tags = this.#modes.get(mode);
    return {
      groups: () => byGroup.keys(),
      next: (group) => {
        let heap = ordered.get(group);
        if (heap === undefined) {
          const list = byGroup.get(group);
          if (list === undefined) return undefined;
          ordered.set(group, (heap = new ClaimOrderHeap(list, agingRate)));
        }
        return heap.pop();
      },
      tag: (group) => tags?.groups.get(group),
      clock: () => tags?.clock ?? { virtual: 0, stamp: 0 },
      windowUnits: (key, since) => {
        const w = this.#prune(key, now - since, now);
        if (w.keepMs === now - since) return w.sum;
        let sum = 0;
        // A shorter window than the kept one: sum its part (the stored sum covers the longest).
        for (let i = w.head; i < w.rows.length; i++) if ((w.rows[i] as WindowRow).at > since) sum += (w.rows[i] as WindowRow).units;
        return sum;
      },
      windowEntries: (key, since) => {
        const w = this.#prune(key, now - since, now);
        const out: FlowWindowEntry[] = [];
        for (let i = w.head; i < w.rows.length; i++) {
          const r = w.rows[i] as WindowRow;
          if (r.at > since) out.push([r.at, r.units]);
        }
        return out;
      },
      running: (key) => {
        const holds = this.#holds.get(key);
        if (holds === undefined) return 0;
        // A hold whose job left `running` (or moved to another claim) is gone for good.
        for (const [jobId, version] of holds) if (!this.#holding(jobId, version)) holds.delete(jobId);
        return holds.size;
      },
    };
  }

  /**
   * Drops the entries of `key` older than the longest window any claim has counted for it
   * (`perMs` now, or a longer one before): a claimant with a shorter window must not drop the
   * entries another claimant's longer window still counts.
   */
  #prune(key: string, perMs: number, now: number): Window {
    let w = this.#windows.get(key);
    // Created by the count before any admission, so the first claimant's window is kept too.
    if (w === undefined) this.#windows.set(key, (w = { rows: [], head: 0, sum: 0, keepMs: perMs }));
    if (perMs > w.keepMs) w.keepMs = perMs;
    const cutoff = now - w.keepMs;
    while (w.head < w.rows.length && (w.rows[w.head] as WindowRow).at <= cutoff) {
      const row = w.rows[w.head++] as WindowRow;
      w.sum -= row.units;
      const id = `${key}\0${row.jobId}`;
      if (this.#entries.get(id) === row) this.#entries.delete(id);
    }
    // Compact once the dropped prefix is the larger part: amortized O(1) per entry.
    if (w.head > 64 && w.head * 2 > w.rows.length) {
      w.rows.splice(0, w.head);
      w.head = 0;
    }
    return w;
  }

  /** Writes a plan's admissions and tags; `versions[i]` is the claimed version of `plan.picks[i]`. */
  apply(mode: string, plan: FlowPlan, versions: readonly number[], now: number): void {
    plan.picks.forEach((pick, i) => {
      const version = versions[i] as number;
      for (const a of pick.admissions) {
        if (a.rate) {
          let w = this.#windows.get(a.key);
          if (w === undefined) this.#windows.set(a.key, (w = { rows: [], head: 0, sum: 0, keepMs: 0 })); // counted first: not reached
          const row = { at: now, units: a.units, jobId: pick.job.id, version };
          w.rows.push(row);
          w.sum += a.units;
          this.#entries.set(`${a.key}\0${pick.job.id}`, row);
        }
        if (a.slot) {
          let holds = this.#holds.get(a.key);
          if (holds === undefined) this.#holds.set(a.key, (holds = new Map<string, number>()));
          holds.set(pick.job.id, version);
        }
      }
    });
    let tags = this.#modes.get(mode);
    if (tags === undefined) this.#modes.set(mode, (tags = { clock: plan.clock, groups: new Map() }));
    tags.clock = plan.clock;
    for (const [group, tag] of plan.tags) tags.groups.set(group, tag);
  }

  /** Sets the units of a window entry; false when there is none. */
  charge({ jobId, version, key, units }: FlowCharge): boolean {
    const row = this.#entries.get(`${key}\0${jobId}`);
    const w = this.#windows.get(key);
    if (row === undefined || w === undefined || row.version !== version) return false;
    w.sum += units - row.units;
    row.units = units;
    return true;
  }

  clear(): void {
    this.#windows.clear();
    this.#entries.clear();
    this.#holds.clear();
    this.#modes.clear();
  }
}

/**
 * Jobs in claim order (key descending, then id ascending: `compareClaimOrder`), taken one at a
 * time: a binary heap of indexes into the jobs, their claim keys computed once.
 */
class ClaimOrderHeap {
  readonly #jobs: readonly Job[];
  readonly #keys: Float64Array;
  readonly #heap: Int32Array;
  #size: number;

  constructor(jobs: readonly Job[], agingRate: number) {
    const n = jobs.length;
    this.#jobs = jobs;
    this.#keys = new Float64Array(n);
    this.#heap = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      this.#keys[i] = claimKey(jobs[i] as Job, agingRate);
      this.#heap[i] = i;
    }
    this.#size = n;
    for (let i = (n >> 1) - 1; i >= 0; i--) this.#down(i);
  }

  /** The next job in claim order, taken out; `undefined` when none is left. */
  pop(): Job | undefined {
    if (this.#size === 0) return undefined;
    const heap = this.#heap;
    const top = heap[0] as number;
    heap[0] = heap[--this.#size] as number;
    if (this.#size > 1) this.#down(0);
    return this.#jobs[top];
  }

  /** True when job `a` goes before job `b`. */
  #before(a: number, b: number): boolean {
    const ka = this.#keys[a] as number;
    const kb = this.#keys[b] as number;
    if (ka !== kb) return ka > kb;
    return (this.#jobs[a] as Job).id < (this.#jobs[b] as Job).id;
  }

  #down(i: number): void {
    const heap = this.#heap;
    const size = this.#size;
    const item = heap[i] as number;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= size) break;
      if (child + 1 < size && this.#before(heap[child + 1] as number, heap[child] as number)) child++;
      if (!this.#before(heap[child] as number, item)) break;
      heap[i] = heap[child] as number;
      i = child;
    }
    heap[i] = item;
  }
}
