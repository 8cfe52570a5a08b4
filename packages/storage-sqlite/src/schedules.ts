// The schedules capability on SQLite: one row per schedule in the `schedules` table (migration
// 0005). The definition is stored as JSON and compared with `scheduleConflicts` from the kit, so
// SQLite and the other stores agree on what "the same schedule" is. A put reads and inserts in
// one immediate transaction, so concurrent puts from many connections have one creator.
import { CorruptRecordError } from "@pyrexis/models";
import type { PutScheduleOutcome, ScheduleDefinition, ScheduleRecord } from "@pyrexis/storage";
import { assertSameSchedule, assertScheduleName, assertTickTime, checkScheduleRecord } from "@pyrexis/storage/kit";
import type { SqliteDatabaseLike, SqliteStatementLike } from "./sqlite-database-like.js";

interface ScheduleRow {
  name: string;
  definition: unknown;
  created_at: number;
  last_tick_at: number | null;
}

type StoredDefinition = Omit<ScheduleDefinition, "name">;

/** The schedule statements of one connection, prepared on first use. */
export class SqliteSchedules {
  readonly #db: SqliteDatabaseLike;
  readonly #statements = new Map<string, SqliteStatementLike>();

  constructor(db: SqliteDatabaseLike) {
    this.#db = db;
  }

  #prepared(text: string): SqliteStatementLike {
    let stmt = this.#statements.get(text);
    if (stmt === undefined) this.#statements.set(text, (stmt = this.#db.prepare(text)));
    return stmt;
  }

  put(record: ScheduleRecord): PutScheduleOutcome {
    checkScheduleRecord(record);
    const definition: StoredDefinition = {
      cron: record.cron,
      timezone: record.timezone,
      spec: record.spec,
      catchUp: record.catchUp,
      catchUpLimit: record.catchUpLimit,
    };
    const text = JSON.stringify(definition);
    let outcome: PutScheduleOutcome | undefined;
    this.#db
      .transaction(() => {
        const stored = this.#read(record.name);
        if (stored !== undefined) {
          assertSameSchedule(stored, record);
          outcome = { created: false, schedule: stored };
          return;
        }
        this.#prepared("INSERT INTO schedules (name, definition, created_at, last_tick_at) VALUES (?, ?, ?, ?)").run(
          record.name,
          text,
          record.createdAt,
          record.lastTickAt ?? null,
        );
        outcome = {
          created: true,
          schedule: toRecord(record.name, JSON.parse(text) as StoredDefinition, record.createdAt, record.lastTickAt ?? null),
        };
      })
      .immediate();
    return outcome as PutScheduleOutcome;
  }

  get(name: string): ScheduleRecord | undefined {
    assertScheduleName(name);
    return this.#read(name);
  }

  list(): ScheduleRecord[] {
    const rows = this.#prepared("SELECT name, definition, created_at, last_tick_at FROM schedules ORDER BY name").all() as ScheduleRow[];
    return rows.map((row) => readRow(row));
  }

  delete(name: string): boolean {
    assertScheduleName(name);
    return Number(this.#prepared("DELETE FROM schedules WHERE name = ?").run(name).changes) > 0;
  }

  recordTick(name: string, tickAt: number): boolean {
    assertScheduleName(name);
    assertTickTime(tickAt);
    // One statement: the larger of the stored tick and this one, whoever writes last.
    const changed = this.#prepared("UPDATE schedules SET last_tick_at = max(coalesce(last_tick_at, @tick), @tick) WHERE name = @name").run({
      tick: tickAt,
      name,
    }).changes;
    return Number(changed) > 0;
  }

  #read(name: string): ScheduleRecord | undefined {
    const row = this.#prepared("SELECT name, definition, created_at, last_tick_at FROM schedules WHERE name = ?").get(name) as
      ScheduleRow | undefined;
    return row === undefined ? undefined : readRow(row);
  }
}

function readRow(row: ScheduleRow): ScheduleRecord {
  let definition: StoredDefinition;
  try {
    if (typeof row.definition !== "string") throw new TypeError("definition column is not text");
    definition = JSON.parse(row.definition) as StoredDefinition;
    if (typeof definition !== "object" || definition === null || typeof definition.cron !== "string")
      throw new TypeError("definition is not a schedule");
  } catch (e) {
    throw new CorruptRecordError(`schedule ${row.name}`, e instanceof Error ? e.message : String(e), { cause: e });
  }
  return toRecord(row.name, definition, row.created_at, row.last_tick_at);
}

function toRecord(name: string, d: StoredDefinition, createdAt: number, lastTickAt: number | null): ScheduleRecord {
  const record: ScheduleRecord = {
    name,
    cron: d.cron,
    timezone: d.timezone,
    spec: d.spec,
    catchUp: d.catchUp,
    catchUpLimit: d.catchUpLimit,
    createdAt,
    ...(lastTickAt === null ? {} : { lastTickAt }),
  };
  return record;
}
