import type { Job } from "@pyrexis/models";
import type { Running, TerminalCommit } from "./attempt.js";
import { laneOf } from "./flow-control/flow-gate.js";
import type { QueueEntry } from "./local-queue.js";

/**
 * The `runAt` a queue entry carries: the job's, when it was in the future at the job's last write
 * (a delay or a retry backoff); otherwise none, and the entry is ready at once from `enqueuedAt`
 * (= `job.runAt`, so its age is the same). Saves the scheduler and the queue a clock read per job.
 */
function delayedRunAt(job: Job): number | undefined {
  return job.runAt > job.updatedAt ? job.runAt : undefined;
}

/**
 * A job this engine holds: queued (in the local queue, or claimed and waiting for a slot),
 * running, or committing its terminal record (`settling`). While queued locally it is its own
 * scheduler entry (one object per job instead of two).
 */
export class Active implements QueueEntry {
  job!: Job;
  readonly id: string;
  priority!: number;
  enqueuedAt!: number;
  /** Set only for a job that was delayed when written (see {@link delayedRunAt}). */
  runAt: number | undefined;
  mode!: string;
  /** True while this entry waits for a slot (in the local queue, or claimed and not started). */
  queued = false;
  running: Running | undefined = undefined;
  settling: TerminalCommit | undefined = undefined;
  /** Claims: the version of this engine's lease on the job (its writes are fenced by it). */
  leaseVersion: number | undefined = undefined;
  /** When it entered the flow gate (set by the gate; −1 when it did not wait there). */
  gatedAt = -1;

  /** Its fair-sharing group (read by the flow gate's scheduler). */
  get group(): string | undefined {
    return this.job.group;
  }

  /** Its lane in the flow gate: the keys of the limits it uses. */
  get lane(): string {
    return laneOf(this.job.limits);
  }

  constructor(job: Job) {
    this.id = job.id;
    this.setJob(job);
  }

  /** Points the job and the entry fields at `job`, to be queued. */
  setJob(job: Job): void {
    this.job = job;
    this.priority = job.priority;
    this.enqueuedAt = job.runAt;
    this.runAt = delayedRunAt(job);
    this.mode = job.mode;
  }
}
