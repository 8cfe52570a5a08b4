import {
  assertChargeArgs,
  jsonError,
  toLogRecord,
  writeLog,
  type AbortListenerObject,
  type Logger,
  type LogLevel,
} from "@pyrexis/executors";
import type { Clock } from "@pyrexis/models";
import type { Running } from "./attempt.js";
import { BatchAssembler, splitBatchOutputs } from "./batching.js";
import type { BatchContext, BatchDefinition, BatchItem } from "./batch-handler.js";

// How the engine runs a batching handler. Each job of a batch is an ordinary attempt (a
// `Running`, durably started, through the flow gate, holding its own concurrency slot); only
// the handler call is shared. Outcomes reach an attempt a microtask later at the earliest, never
// inside the engine's `#start` or inside an `abort`, as with the executors.

/** What a dispatcher needs from the engine. */
export interface BatchHost {
  /** The attempt is handed to its handler now: its trace span, `job:started` and timeout start. */
  begin(running: Running): void;
  readonly logger: Logger;
}

/** One attempt in an open batch or a call: the assembler's item and the attempt's abort listener. */
class BatchMember implements AbortListenerObject {
  readonly running: Running;
  readonly #dispatcher: BatchDispatcher;
  /** The call it was handed to; `undefined` while its batch is open. */
  call: BatchCall | undefined = undefined;

  constructor(running: Running, dispatcher: BatchDispatcher) {
    this.running = running;
    this.#dispatcher = dispatcher;
  }

  get jobId(): string {
    return this.running.job.id;
  }

  get payload(): unknown {
    return this.running.job.payload;
  }

  /** Its attempt was aborted (cancel, timeout, lost lease, shutdown): it ends alone, at once. */
  handleEvent(): void {
    if (this.call === undefined) this.#dispatcher.leave(this);
    else this.call.memberAborted(this.running.reason);
    settleSoon(this.running, false, this.running.reason);
  }
}

/** Collects the started attempts of one batching handler into calls of its function. */
export class BatchDispatcher {
  readonly handler: string;
  readonly #definition: BatchDefinition;
  readonly #assembler: BatchAssembler<BatchMember>;
  readonly #host: BatchHost;

  constructor(handler: string, definition: BatchDefinition, clock: Clock, host: BatchHost) {
    this.handler = handler;
    this.#definition = definition;
    this.#host = host;
    // The assembler checks the options (InvalidBatchOptionsError naming this handler).
    this.#assembler = new BatchAssembler<BatchMember>(handler, definition.options, clock, (_key, members) => this.#call(members));
  }

  /** The most jobs one call takes. */
  get maxSize(): number {
    return this.#definition.options.maxSize;
  }

  /** Attempts waiting in open batches. */
  get waiting(): number {
    return this.#assembler.waiting;
  }

  /** Adds a durably started attempt to the open batch of its key (a full batch is called at once). */
  add(running: Running): void {
    if (running.aborted) {
      settleSoon(running, false, running.reason);
      return;
    }
    const member = new BatchMember(running, this);
    running.listen(member);
    this.#assembler.add(member);
  }

  /** Calls every open batch now (shutdown: its attempts are started and should run, not wait). */
  flushAll(): void {
    this.#assembler.flushAll();
  }

  /** @internal An attempt aborted while its batch was open leaves it. */
  leave(member: BatchMember): void {
    this.#assembler.remove(member.jobId);
  }

  #call(members: BatchMember[]): void {
    const live = members.filter((m) => !m.running.aborted);
    if (live.length === 0) return;
    const call = new BatchCall(this.handler, this.#definition, live, this.#host.logger);
    for (const member of live) {
      member.call = call;
      this.#host.begin(member.running);
    }
    // The function runs a microtask later: never inside the engine's dispatch of the last job.
    queueMicrotask(() => call.invoke());
  }
}

/** One call of a batching handler's function over the attempts it was handed. */
class BatchCall implements BatchContext {
  readonly handler: string;
  readonly #definition: BatchDefinition;
  readonly #members: readonly BatchMember[];
  readonly #byJob: Map<string, BatchMember> | undefined;
  readonly #baseLogger: Logger;
  #logger: Logger | undefined;
  #controller: AbortController | undefined;
  #aborted = 0;
  #lastReason: unknown;

  constructor(handler: string, definition: BatchDefinition, members: readonly BatchMember[], logger: Logger) {
    this.handler = handler;
    this.#definition = definition;
    this.#members = members;
    this.#baseLogger = logger;
    this.#byJob = members.length > 1 ? new Map(members.map((m) => [m.jobId, m])) : undefined;
  }

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#aborted === this.#members.length) this.#controller.abort(this.#lastReason);
    }
    return this.#controller.signal;
  }

  get logger(): Logger {
    this.#logger ??= boundLogger(this.#baseLogger, { handler: this.handler, batchSize: this.#members.length });
    return this.#logger;
  }

  /** @internal One of its attempts was aborted; the call's signal aborts with the last one. */
  memberAborted(reason: unknown): void {
    this.#aborted++;
    this.#lastReason = reason;
    if (this.#aborted === this.#members.length) this.#controller?.abort(reason);
  }

  progress(jobId: string, value: unknown): void {
    const error = jsonError(value, `progress of job ${jobId}`);
    if (error !== undefined) throw error;
    const member = this.#member(jobId);
    if (member !== undefined && !member.running.aborted) member.running.onProgress(value);
  }

  charge(jobId: string, units: number, key?: string): void {
    assertChargeArgs(jobId, units, key);
    const member = this.#member(jobId);
    if (member !== undefined && !member.running.aborted) member.running.onCharge(units, key);
  }

  #member(jobId: string): BatchMember | undefined {
    if (this.#byJob !== undefined) return this.#byJob.get(jobId);
    const only = this.#members[0];
    return only?.jobId === jobId ? only : undefined;
  }

  /** Runs the function and hands each attempt its outcome. */
  invoke(): void {
    const items: BatchItem[] = this.#members.map((m) => ({
      jobId: m.jobId,
      payload: m.running.job.payload,
      attempt: m.running.job.attempts,
    }));
    let returned: unknown;
    try {
      returned = this.#definition.run(items, this);
    } catch (error) {
      this.#failAll(error);
      return;
    }
    Promise.resolve(returned).then(
      (outputs) => this.#deliver(outputs),
      (error: unknown) => this.#failAll(error),
    );
  }

  #deliver(outputs: unknown): void {
    const outcomes = splitBatchOutputs(this.handler, this.#members.length, outputs);
    for (let i = 0; i < this.#members.length; i++) {
      const member = this.#members[i] as BatchMember;
      const outcome = outcomes[i];
      if (outcome === undefined || !this.#endMember(member)) continue;
      if (!outcome.ok) {
        member.running.settle(false, outcome.error);
        continue;
      }
      // A slot left empty produced `null`: JSON has no undefined.
      const output = outcome.output === undefined ? null : outcome.output;
      const invalid = jsonError(output, `output of handler "${this.handler}" (job ${member.jobId})`);
      if (invalid === undefined) member.running.settle(true, output);
      else member.running.settle(false, invalid);
    }
  }

  #failAll(error: unknown): void {
    for (const member of this.#members) if (this.#endMember(member)) member.running.settle(false, error);
  }

  /** Detaches a member that was not aborted; false when it already ended through its abort. */
  #endMember(member: BatchMember): boolean {
    if (member.running.aborted) return false;
    member.running.unlisten(member);
    return true;
  }
}

/** `running.settle` a microtask later: never inside the caller's `abort` or dispatch. */
function settleSoon(running: Running, ok: boolean, value: unknown): void {
  queueMicrotask(() => running.settle(ok, value));
}

function boundLogger(logger: Logger, bindings: Record<string, unknown>): Logger {
  const at =
    (level: LogLevel) =>
    (objOrMsg: unknown, msg?: string): void => {
      const record = toLogRecord(objOrMsg, msg);
      writeLog(logger, level, bindings, record.obj, record.msg);
    };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}
