// The schedules capability on SQLite: one row per schedule in the `schedules` table (migration
// 0005). The definition is stored as JSON and compared with `scheduleConflicts` from the kit, so
// SQLite and the other stores agree on what "the same schedule" is. A put reads and inserts in
// one immediate transaction, so concurrent puts from many connections have one creator.
import type { PutScheduleOutcome, ScheduleRecord } from "@pyrexis/storage";
import {
  assertSameSchedule,
  assertScheduleName,
  assertTickTime,
  checkScheduleRecord,
  readScheduleRow,
  scheduleDefinitionJson,
  type ScheduleRow,
} from "@pyrexis/storage/kit";
import type { SqliteDatabaseLike, SqliteStatementLike } from "./sqlite-database-like.js";

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
    const text = scheduleDefinitionJson(record);
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
          schedule: readScheduleRow({
            name: record.name,
            definition: text,
            created_at: record.createdAt,
            last_tick_at: record.lastTickAt ?? null,
          }),
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
    return rows.map(readScheduleRow);
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
    return row === undefined ? undefined : readScheduleRow(row);
  }
}
