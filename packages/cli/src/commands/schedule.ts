import { loadHandlersModule } from "@pyrexis/executors";
import { buildScheduleRecord, nextScheduleTick, type ScheduleOptions } from "@pyrexis/engine";
import { IncompatibleStoreError, type JsonValue } from "@pyrexis/models";
import { hasSchedules, type JobStore, type SchedulesJobStore } from "@pyrexis/storage";
import { UsageError } from "../errors.js";
import { formatTable, formatTime } from "../format.js";
import type { CliIo } from "../io.js";
import { CLI_MODES } from "../modes.js";
import { openExistingStore, openOrCreateStore, resolveHandlersPath, resolveStorePath, withStore } from "../store.js";

// `pyrexis schedule add|list|remove`: cron schedules are data in the store, like jobs. Every
// worker on the store submits their ticks (exactly one job per tick across workers), so adding a
// schedule needs no worker restart and no config file to keep in sync across machines.

/** Options of `pyrexis schedule add`. */
export interface ScheduleAddOptions {
  store?: string | undefined;
  handlers?: string | undefined;
  timezone?: string | undefined;
  catchUp?: boolean | undefined;
  catchUpLimit?: number | undefined;
  priority?: number | undefined;
  mode?: string | undefined;
  maxAttempts?: number | undefined;
  timeout?: number | undefined;
  json?: boolean | undefined;
}

/** Options of `pyrexis schedule list` and `remove`. */
export interface ScheduleReadOptions {
  store?: string | undefined;
  json?: boolean | undefined;
}

function schedulesOf(store: JobStore): SchedulesJobStore {
  if (!hasSchedules(store)) throw new IncompatibleStoreError("this store does not keep schedules");
  return store;
}

function parsePayload(payload: string | undefined): JsonValue {
  if (payload === undefined) return null;
  try {
    return JSON.parse(payload) as JsonValue;
  } catch (e) {
    throw new UsageError(`payload is not valid JSON: ${(e as Error).message}`, [{ path: ["payload"], message: "not valid JSON" }]);
  }
}

/**
 * `pyrexis schedule add <name> <cron> <handler> [payload]`: checks everything (cron expression,
 * timezone, spec, handler when `--handlers` is given) before opening the store, then stores the
 * schedule. The same definition again is a no-op; another one under the name is refused.
 */
export async function scheduleAddCommand(
  name: string,
  cron: string,
  handler: string,
  payload: string | undefined,
  options: ScheduleAddOptions,
  io: CliIo,
): Promise<number> {
  const spec: ScheduleOptions["spec"] = {
    handler,
    payload: parsePayload(payload),
    ...(options.priority !== undefined ? { priority: options.priority } : {}),
    ...(options.mode !== undefined ? { mode: options.mode } : {}),
    ...(options.maxAttempts !== undefined ? { maxAttempts: options.maxAttempts } : {}),
    ...(options.timeout !== undefined ? { timeoutMs: options.timeout } : {}),
  };
  const handlersPath = resolveHandlersPath(options.handlers, io);
  const handlers = handlersPath === undefined ? undefined : Object.keys(await loadHandlersModule(handlersPath));
  const record = buildScheduleRecord(
    name,
    {
      cron,
      spec,
      ...(options.timezone !== undefined ? { timezone: options.timezone } : {}),
      ...(options.catchUp !== undefined ? { catchUp: options.catchUp } : {}),
      ...(options.catchUpLimit !== undefined ? { catchUpLimit: options.catchUpLimit } : {}),
    },
    { now: Date.now(), modes: CLI_MODES, handlers },
  );
  const path = resolveStorePath(options.store, io);
  const { created, schedule } = await withStore(openOrCreateStore(path), (store) => schedulesOf(store).putSchedule(record));
  const next = nextScheduleTick(schedule, Date.now());
  if (options.json)
    io.stdout.write(`${JSON.stringify({ created, schedule: { ...schedule, ...(next === undefined ? {} : { nextTickAt: next }) } })}\n`);
  else io.stdout.write(`${created ? "added" : "unchanged"} ${name}${next === undefined ? "" : `, next tick ${formatTime(next)}`}\n`);
  return 0;
}

/** `pyrexis schedule list`: every schedule of the store with its last and next tick. */
export async function scheduleListCommand(options: ScheduleReadOptions, io: CliIo): Promise<number> {
  const path = resolveStorePath(options.store, io);
  const stored = await withStore(openExistingStore(path), (store) => schedulesOf(store).listSchedules());
  const now = Date.now();
  const rows = stored.map((s) => ({ ...s, nextTickAt: nextScheduleTick(s, now) }));
  if (options.json) {
    io.stdout.write(`${JSON.stringify(rows)}\n`);
    return 0;
  }
  if (rows.length === 0) {
    io.stdout.write("no schedules\n");
    return 0;
  }
  io.stdout.write(
    formatTable(
      ["NAME", "CRON", "TIMEZONE", "HANDLER", "CATCH-UP", "LAST TICK", "NEXT TICK"],
      rows.map((s) => [
        s.name,
        s.cron,
        s.timezone,
        s.spec.handler,
        s.catchUp ? `on (${s.catchUpLimit})` : "off",
        s.lastTickAt === undefined ? "-" : formatTime(s.lastTickAt),
        s.nextTickAt === undefined ? "-" : formatTime(s.nextTickAt),
      ]),
    ),
  );
  return 0;
}

/** `pyrexis schedule remove <name>`: no later tick submits a job; jobs already submitted stay. Exit 1 when there is none. */
export async function scheduleRemoveCommand(name: string, options: ScheduleReadOptions, io: CliIo): Promise<number> {
  const path = resolveStorePath(options.store, io);
  const removed = await withStore(openExistingStore(path), (store) => schedulesOf(store).deleteSchedule(name));
  if (options.json) io.stdout.write(`${JSON.stringify({ removed })}\n`);
  else if (removed) io.stdout.write(`removed ${name}\n`);
  if (!removed) {
    io.stderr.write(`pyrexis: error: no schedule named "${name}" in ${path}\n`);
    return 1;
  }
  return 0;
}
