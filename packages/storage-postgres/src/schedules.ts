// The schedules capability on PostgreSQL: one row per schedule in `<schema>.schedules` (migration
// 0002). The definition is JSON text compared with `scheduleConflicts` from the kit, so every
// store agrees on what "the same schedule" is. A put is an `INSERT … ON CONFLICT DO NOTHING`
// (the primary key picks one creator among any number of nodes), then a read of the winner to
// compare; a tick is one `UPDATE … GREATEST`, so concurrent ticks leave the largest.
import { CompiledQuery, type Kysely } from "kysely";
import { CorruptRecordError } from "@pyrexis/models";
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
import { quoteIdent } from "./migrations.js";

/** The schedule statements of one store's schema. */
export class PostgresSchedules {
  readonly #db: Kysely<unknown>;
  readonly #sql: { insert: string; get: string; list: string; delete: string; tick: string };

  constructor(db: Kysely<unknown>, schema: string) {
    this.#db = db;
    const t = `${quoteIdent(schema)}.schedules`;
    const columns = "name, definition, created_at::float8 AS created_at, last_tick_at::float8 AS last_tick_at";
    this.#sql = {
      insert: `INSERT INTO ${t} (name, definition, created_at, last_tick_at) VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO NOTHING RETURNING name`,
      get: `SELECT ${columns} FROM ${t} WHERE name = $1`,
      list: `SELECT ${columns} FROM ${t} ORDER BY name`,
      delete: `DELETE FROM ${t} WHERE name = $1`,
      // GREATEST ignores a NULL argument: the first tick is stored as it is.
      tick: `UPDATE ${t} SET last_tick_at = GREATEST(last_tick_at, $2) WHERE name = $1`,
    };
  }

  async #run<R>(text: string, params: unknown[]): Promise<{ rows: R[]; count: number }> {
    const r = await this.#db.executeQuery<R>(CompiledQuery.raw(text, params));
    return { rows: r.rows, count: Number(r.numAffectedRows ?? 0n) };
  }

  async put(record: ScheduleRecord): Promise<PutScheduleOutcome> {
    checkScheduleRecord(record);
    const text = scheduleDefinitionJson(record);
    // A schedule deleted between the insert that lost and the read: try again (bounded).
    for (let round = 0; round < 3; round++) {
      const inserted = await this.#run(this.#sql.insert, [record.name, text, record.createdAt, record.lastTickAt ?? null]);
      if (inserted.rows.length > 0) {
        return {
          created: true,
          schedule: readScheduleRow({
            name: record.name,
            definition: text,
            created_at: record.createdAt,
            last_tick_at: record.lastTickAt ?? null,
          }),
        };
      }
      const stored = await this.get(record.name);
      if (stored !== undefined) {
        assertSameSchedule(stored, record);
        return { created: false, schedule: stored };
      }
    }
    throw new CorruptRecordError(`schedule ${record.name}`, "the schedule was created and deleted again during every try of putSchedule");
  }

  async get(name: string): Promise<ScheduleRecord | undefined> {
    assertScheduleName(name);
    const { rows } = await this.#run<ScheduleRow>(this.#sql.get, [name]);
    const row = rows[0];
    return row === undefined ? undefined : readScheduleRow(row);
  }

  async list(): Promise<ScheduleRecord[]> {
    const { rows } = await this.#run<ScheduleRow>(this.#sql.list, []);
    return rows.map(readScheduleRow);
  }

  async delete(name: string): Promise<boolean> {
    assertScheduleName(name);
    return (await this.#run(this.#sql.delete, [name])).count > 0;
  }

  async recordTick(name: string, tickAt: number): Promise<boolean> {
    assertScheduleName(name);
    assertTickTime(tickAt);
    return (await this.#run(this.#sql.tick, [name, tickAt])).count > 0;
  }
}
