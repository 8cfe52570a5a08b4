// One task in flight in a worker pool: what every runtime keeps about it. Each runtime link
// extends it with what that runtime needs to find, abort and kill the task's worker.
import type { ExecutionTask } from "./executor.js";
import type { TaskControl } from "./task-control.js";
import type { WireEvent, WireResult } from "./wire.js";

/** What a task calls back into: its pool. */
export interface TaskHost {
  /** The caller aborted the run. */
  abortRun(task: PoolTask): void;
  /** A progress, log or start event from a worker. */
  onEvent(event: WireEvent): void;
}

/** A final answer of a worker, kept until all the progress it counts has arrived. */
export type FinalResult = Extract<WireResult, { t: "ok" | "err" }>;

/**
 * One task in flight: a plain record with no per-task closure (it is its own abort listener, via
 * `handleEvent`). Lives from `start` until its outcome is settled and its worker let go of it.
 */
export class PoolTask {
  /** Routing key, unique per pool: events and aborts name the task by it. */
  readonly key: number;
  readonly task: ExecutionTask;
  /** Steers the run and receives its outcome. */
  readonly control: TaskControl;
  protected readonly host: TaskHost;
  /** The outcome went to the control. */
  settled = false;
  /** Progress and charge messages received; a final result waits for all it counts. */
  received = 0;
  final: FinalResult | undefined = undefined;
  /** The caller aborted the run. */
  aborted = false;
  /** The handler outlived the abort grace period: its worker is (to be) killed. */
  graceExpired = false;
  /** The abort grace timer. */
  timer: NodeJS.Timeout | undefined = undefined;
  /** Times the task was sent again because its worker went away before it started. */
  resubmits = 0;

  constructor(host: TaskHost, key: number, task: ExecutionTask, control: TaskControl) {
    this.host = host;
    this.key = key;
    this.task = task;
    this.control = control;
  }

  /** The caller aborted the run (its control calls this). */
  handleEvent(): void {
    this.host.abortRun(this);
  }
}
