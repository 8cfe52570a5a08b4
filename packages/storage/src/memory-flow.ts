// The flow state of a MemoryJobStore created with `flow: true`: window entries and holds per
// limit key, fair-queuing tags per mode and group. The reference for the flow capability: plain
// maps and a scan of the claimable jobs per claim, kept simple rather than fast.
import type { Job } from "@pyrexis/models";
import { compareClaimOrder } from "./claims-kit.js";
import type { FlowCharge } from "./flow.js";
import type { FlowGroupTag, FlowModeClock, FlowPlan, FlowReader, FlowWindowEntry } from "./flow-kit.js";

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

/** Whether the job `jobId` is `running` with `version` under a lease expiring after `now`. */
export type HoldCheck = (jobId: string, version: number, now: number) => boolean;

/** The shared flow state of one memory store. */
export class MemoryFlowState {
  readonly #windows = new Map<string, WindowRow[]>();
  /** Per key: job id → the version of the claim that took the slot. */
  readonly #holds = new Map<string, Map<string, number>>();
  readonly #modes = new Map<string, ModeTags>();
  readonly #holding: HoldCheck;

  constructor(holding: HoldCheck) {
    this.#holding = holding;
  }

  /** A reader over this state for one mode's claim; `candidates` are its due jobs (any order). */
  reader(mode: string, candidates: readonly Job[], agingRate: number): FlowReader {
    const byGroup = new Map<string, Job[]>();
    for (const job of candidates) {
      const g = job.group ?? "";
      let list = byGroup.get(g);
      if (list === undefined) byGroup.set(g, (list = []));
      list.push(job);
    }
    for (const list of byGroup.values()) list.sort((a, b) => compareClaimOrder(a, b, agingRate));
    const cursor = new Map<string, number>();
    const tags = this.#modes.get(mode);
    return {
      groups: () => byGroup.keys(),
      next: (group) => {
        const i = cursor.get(group) ?? 0;
        cursor.set(group, i + 1);
        return byGroup.get(group)?.[i];
      },
      tag: (group) => tags?.groups.get(group),
      clock: () => tags?.clock ?? { virtual: 0, stamp: 0 },
      window: (key, since) => {
        const rows = this.#windows.get(key);
        if (rows === undefined) return [];
        // Entries at or before `since` can never count again for this claimant: drop them.
        let drop = 0;
        while (drop < rows.length && (rows[drop] as WindowRow).at <= since) drop++;
        if (drop > 0) rows.splice(0, drop);
        return rows.map((r): FlowWindowEntry => [r.at, r.units]);
      },
      running: (key, now) => {
        const holds = this.#holds.get(key);
        if (holds === undefined) return 0;
        let n = 0;
        for (const [jobId, version] of holds) {
          if (this.#holding(jobId, version, now)) n++;
          // A hold whose job left `running` (or moved to another claim) is gone for good.
          else if (!this.#holding(jobId, version, Number.NEGATIVE_INFINITY)) holds.delete(jobId);
        }
        return n;
      },
    };
  }

  /** Writes a plan's admissions and tags; `versions[i]` is the claimed version of `plan.picks[i]`. */
  apply(mode: string, plan: FlowPlan, versions: readonly number[], now: number): void {
    plan.picks.forEach((pick, i) => {
      const version = versions[i] as number;
      for (const a of pick.admissions) {
        if (a.rate) {
          let rows = this.#windows.get(a.key);
          if (rows === undefined) this.#windows.set(a.key, (rows = []));
          rows.push({ at: now, units: a.units, jobId: pick.job.id, version });
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
    const row = this.#windows.get(key)?.find((r) => r.jobId === jobId && r.version === version);
    if (row === undefined) return false;
    row.units = units;
    return true;
  }

  clear(): void {
    this.#windows.clear();
    this.#holds.clear();
    this.#modes.clear();
  }
}
