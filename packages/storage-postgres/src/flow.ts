// The flow capability on PostgreSQL (tables and functions of migrations 0006 and 0007). A flow
// claim is one transaction that first takes a transaction advisory lock keyed by the schema: flow
// claims run one at a time, so each sees the admissions of the one before it (every statement
// after the lock reads a fresh snapshot under READ COMMITTED). Plain claims never take the lock;
// they skip the rows a flow claim has locked, and a flow claim skips theirs (FOR UPDATE SKIP
// LOCKED).
//
// The kit's planner reads synchronously, so the reader works over rows fetched beforehand: the
// limits' window entries and live holds (the request names every key it may ask about), the
// groups and tags of a mode, and a first chunk of due jobs of the groups the planner will most
// likely pick. When it asks for a job past what was fetched, the plan is abandoned (it wrote
// nothing), the next chunk of that group is fetched, and the plan starts over: planning is pure,
// so the final plan is the one a reader over the whole table would have produced.
import { CompiledQuery, type Transaction } from "kysely";
import { CorruptRecordError, type Job, type JobLimit } from "@pyrexis/models";
import type { FlowCharge } from "@pyrexis/storage";
import {
  addWaiting,
  planFlowClaim,
  storedLimitsReader,
  type CheckedFlowClaim,
  type FlowGroupTag,
  type FlowModeClock,
  type FlowPassedOver,
  type FlowPlan,
  type FlowReader,
  type FlowWindowEntry,
} from "@pyrexis/storage/kit";
import { flowLockKey } from "./identifiers.js";
import { quoteIdent } from "./migrations.js";
import { JOB_COLUMNS, readJob, type JobRow } from "./records.js";

type Executor = Pick<Transaction<unknown>, "executeQuery">;

async function run<R>(db: Executor, text: string, params: readonly unknown[]): Promise<R[]> {
  return (await db.executeQuery<R>(CompiledQuery.raw(text, params as unknown[]))).rows;
}

/** A claimed row as the flow claim's update returns it. */
export interface FlowClaimRow extends JobRow {
  readonly expires_at: number;
}

/** What a flow claim wrote: the claimed rows in pick order, and the planner's counts. */
export interface FlowClaimOutcome {
  readonly rows: FlowClaimRow[];
  readonly refused: number;
  /** Refused jobs per limit key (`FlowClaimResult.waiting`). */
  readonly waiting: Record<string, number>;
  readonly retryAt: number | undefined;
}

interface CandidateRow extends JobRow {
  readonly aging_key: number;
  readonly mode: string;
  readonly ord: number;
}

/** A limits-only row of {@link PostgresFlow}'s `#limitChunks`. */
interface LimitsRow {
  readonly ord: number;
  readonly id: string;
  readonly aging_key: number;
  readonly limits: string | null;
}

/**
 * A candidate fetched by its limits only (once the claim held a limit): its record is read when
 * the planner's test does not refuse it (`job`; `null` for a corrupt one, passed by).
 */
interface LimitsEntry {
  readonly id: string;
  /** Its place in claim order when read: a record found elsewhere since (it changed) is passed by. */
  readonly agingKey: number;
  /** `undefined` when the record has none, or not the stored shape: it is read in full. */
  readonly limits: JobLimit[] | undefined;
  job?: Job | null;
}

/** The due jobs of one group fetched so far, in claim order, and where the next chunk starts. */
interface Buffer {
  readonly jobs: (Job | LimitsEntry)[];
  /** No due job of the group lies past the fetched ones. */
  exhausted: boolean;
  /** Keyset cursor: the last row fetched (corrupt ones included). */
  afterKey: number | null;
  afterId: string | null;
  /** Rows the next fetch asks for. */
  chunk: number;
}

/**
 * The planner asked for a job of `group` past the fetched ones; `limitsOnly` when the claim held
 * a limit by then (the next chunk is read by limits only).
 */
class NeedMore extends Error {
  constructor(
    readonly group: string,
    readonly limitsOnly: boolean,
  ) {
    super(`flow claim: more candidates of group ${JSON.stringify(group)} needed`);
  }
}

/** The planner asked for the record of a candidate fetched by its limits only (`entries`: it and the next ones of its group). */
class NeedRecords extends Error {
  constructor(readonly entries: readonly LimitsEntry[]) {
    super("flow claim: candidate records needed");
  }
}

/**
 * Records read at once when the planner first needs one behind a held limit; each further read
 * in the same mode's plan doubles it (up to {@link MAX_CHUNK}), since every read restarts the
 * plan: a claim whose candidates mostly fit replans about log2(limit / 32) times, not limit / 32.
 */
const RECORDS_CHUNK = 32;

const isLimitsEntry = (entry: Job | LimitsEntry): entry is LimitsEntry => !("handler" in entry);

/** Largest chunk of one group's candidates one fetch asks for. */
const MAX_CHUNK = 512;
/** Groups beyond `limit` whose first chunk the mode's first fetch takes. */
const EXTRA_GROUPS = 8;

/** Start-tag order of the planner (`max(V, finish)`, then the least recently picked, then the name). */
function pickOrder(tags: ReadonlyMap<string, FlowGroupTag>, virtual: number): (a: string, b: string) => number {
  return (a, b) => {
    const ta = tags.get(a);
    const tb = tags.get(b);
    const sa = Math.max(virtual, ta?.finish ?? Number.NEGATIVE_INFINITY);
    const sb = Math.max(virtual, tb?.finish ?? Number.NEGATIVE_INFINITY);
    if (sa !== sb) return sa < sb ? -1 : 1;
    const stampA = ta?.stamp ?? 0;
    const stampB = tb?.stamp ?? 0;
    if (stampA !== stampB) return stampA - stampB;
    return a < b ? -1 : a > b ? 1 : 0;
  };
}

function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The flow statements of one schema, and the claim and charge over them. */
export class PostgresFlow {
  readonly #lockKey: string;
  // $1 lock key, $2 the injected clock or NULL. Takes the lock, then (the subquery is scanned
  // before the outer list is computed; OFFSET 0 keeps it a subquery) reads the time: the
  // database's time after the lock, not the transaction's start, which may be long past when
  // the lock was contended. Its own statement: a statement's snapshot is taken before it runs,
  // so only the statements after this one see what the flow claim before it committed.
  readonly #lock = `SELECT coalesce($2::float8, floor(extract(epoch FROM clock_timestamp()) * 1000)) AS now
    FROM (SELECT pg_advisory_xact_lock(hashtext($1)) OFFSET 0) AS l`;
  readonly #limitsState: string;
  readonly #modes: string;
  readonly #groups: string;
  readonly #tagsOf: string;
  readonly #chunks: string;
  readonly #limitChunks: string;
  readonly #records: string;
  readonly #byIds: string;
  readonly #claim: string;
  readonly #charge: string;

  constructor(schema: string) {
    const s = quoteIdent(schema);
    const jobs = `${s}.jobs`;
    const seq = `'${s}.changes'::regclass`;
    const candidateColumns = `${JOB_COLUMNS.split(", ")
      .map((c) => `j.${c}`)
      .join(", ")}, j.aging_key, j.mode`;
    this.#lockKey = flowLockKey(schema);
    // $1 rate keys, $2 their windows (`perMs`), $3 concurrency keys, $4 now. A rate key's
    // retention is the longest window any claim has counted for it (flow_keys, stored when this
    // claim's window is longer, so an unchanged one writes nothing): its entries at or before
    // `now − retention` are dropped (they never count again for any claimant), the others are
    // kept, and those of this claim's own window (after `now − perMs`) returned. Also drops the
    // holds whose job left `running` under the admitting version (an expired lease holds until
    // it is reclaimed), and returns per key the holds that count now. Every clause reads the
    // statement's snapshot: k the retention stored before this claim, and the deletes and the
    // reads touch disjoint rows (the retention is at least the claim's window).
    this.#limitsState = `WITH k AS (
        SELECT k.key, $4::bigint - k.per_ms AS since, f.keep_ms AS stored, greatest(k.per_ms, f.keep_ms) AS keep_ms
        FROM unnest($1::text[], $2::bigint[]) AS k(key, per_ms) LEFT JOIN ${s}.flow_keys f ON f.key = k.key
      ),
      rk AS (
        INSERT INTO ${s}.flow_keys (key, keep_ms) SELECT k.key, k.keep_ms FROM k WHERE k.stored IS NULL OR k.stored < k.keep_ms
        ON CONFLICT (key) DO UPDATE SET keep_ms = EXCLUDED.keep_ms WHERE flow_keys.keep_ms < EXCLUDED.keep_ms
      ),
      dw AS (DELETE FROM ${s}.flow_window w USING k WHERE w.key = k.key AND w.at <= $4::bigint - k.keep_ms),
      dh AS (
        DELETE FROM ${s}.flow_holds h WHERE h.key = ANY($3::text[])
          AND NOT EXISTS (SELECT 1 FROM ${jobs} j WHERE j.id = h.job_id AND j.version = h.version AND j.status = 'running')
      )
      SELECT w.key, w.at::float8 AS at, w.units::float8 AS units, NULL::int AS running
        FROM ${s}.flow_window w JOIN k ON w.key = k.key AND w.at > k.since
      UNION ALL
      SELECT h.key, NULL, NULL, count(*)::int FROM ${s}.flow_holds h
        JOIN ${jobs} j ON j.id = h.job_id AND j.version = h.version AND j.status = 'running'
        WHERE h.key = ANY($3::text[]) GROUP BY h.key`;
    // $1 now, $2 handlers or NULL. The modes with due jobs, for a request that names none: a
    // scan of every claimable row (no index leads with the mode), so engines name their modes.
    this.#modes = `SELECT DISTINCT j.mode FROM ${jobs} j
      WHERE j.status IN ('pending', 'retrying') AND j.run_at <= $1::bigint AND ($2::text[] IS NULL OR j.handler = ANY($2::text[]))`;
    // $1 mode. Its groups with claimable jobs (kind g, with their tags), the tag of group ""
    // (kind u) and the mode's clock (kind c).
    this.#groups = `SELECT 'g' AS kind, g.grp, t.finish, t.stamp::float8 AS stamp
        FROM ${s}.flow_groups($1::text) AS g(grp) LEFT JOIN ${s}.flow_tags t ON t.mode = $1::text AND t.grp = g.grp
      UNION ALL SELECT 'u', t.grp, t.finish, t.stamp::float8 FROM ${s}.flow_tags t WHERE t.mode = $1::text AND t.grp = ''
      UNION ALL SELECT 'c', NULL, c.virtual, c.stamp::float8 FROM ${s}.flow_clock c WHERE c.mode = $1::text`;
    // $1 mode, $2 groups: their tags, and the mode's clock (the row with grp NULL).
    this.#tagsOf = `SELECT t.grp, t.finish, t.stamp::float8 AS stamp FROM ${s}.flow_tags t WHERE t.mode = $1::text AND t.grp = ANY($2::text[])
      UNION ALL SELECT NULL, c.virtual, c.stamp::float8 FROM ${s}.flow_clock c WHERE c.mode = $1::text`;
    // $1 now, $2 mode, $3 handlers or NULL, then per chunk (arrays): $4 group (NULL: the jobs
    // without one), $5 and $6 the cursor (NULL: from the start), $7 how many. Rows by chunk
    // (`ord`, 1-based), each chunk in claim order; each is locked (SKIP LOCKED) until commit.
    this.#chunks = `SELECT g.ord::int AS ord, ${candidateColumns}
      FROM unnest($4::text[], $5::float8[], $6::text[], $7::int[]) WITH ORDINALITY AS g(grp, after_key, after_id, lim, ord),
      LATERAL (
        SELECT f.*, f.ordinality AS pos FROM ${s}.flow_due($1::bigint, $2::text, g.grp, $3::text[], g.after_key, g.after_id, g.lim)
          WITH ORDINALITY AS f WHERE g.grp IS NOT NULL
        UNION ALL
        SELECT f.*, f.ordinality AS pos FROM ${s}.flow_due_ungrouped($1::bigint, $2::text, $3::text[], g.after_key, g.after_id, g.lim)
          WITH ORDINALITY AS f WHERE g.grp IS NULL
      ) AS j
      ORDER BY g.ord, j.pos`;
    // The same chunks, but only each row's keyset position and its limits (flow_due_limits,
    // migration 0008): read once the claim holds a limit, when most candidates are refused
    // without their records. Not locked: a refused row may be claimed meanwhile by a plain
    // claim, and one that may fit is locked when its record is read.
    this.#limitChunks = this.#chunks
      .replace(`SELECT g.ord::int AS ord, ${candidateColumns}`, "SELECT g.ord::int AS ord, j.id, j.aging_key, j.flow_limits AS limits")
      .replace(`${s}.flow_due(`, `${s}.flow_due_limits(`)
      .replace(`${s}.flow_due_ungrouped(`, `${s}.flow_due_limits_ungrouped(`);
    // $1 ids, $2 now, $3 mode, $4 handlers or NULL: the records of candidates read by their
    // limits that are still due candidates, locked (SKIP LOCKED: one another claimer holds is
    // passed by; so is one whose place in claim order moved, see #readRecords).
    this.#records = `SELECT 0 AS ord, ${candidateColumns} FROM ${jobs} j
      WHERE j.id = ANY($1::text[]) AND j.status IN ('pending', 'retrying') AND j.run_at <= $2::bigint
        AND j.mode = $3::text AND ($4::text[] IS NULL OR j.handler = ANY($4::text[]))
      FOR UPDATE OF j SKIP LOCKED`;
    // $1 now, $2 ids, $3 modes or NULL, $4 handlers or NULL: a claim of given jobs reads them all.
    this.#byIds = `SELECT 0 AS ord, ${candidateColumns} FROM ${jobs} j
      WHERE j.id = ANY($2::text[]) AND j.status IN ('pending', 'retrying') AND j.run_at <= $1::bigint
        AND ($3::text[] IS NULL OR j.mode = ANY($3::text[])) AND ($4::text[] IS NULL OR j.handler = ANY($4::text[]))
      ORDER BY j.aging_key DESC, j.id
      FOR UPDATE OF j SKIP LOCKED`;
    // $1 now, $2 ids, $3 owner, $4 lease ms, $5 channel: what the plain claim writes (columns
    // only; a read lays them over the record, as the kit's claimedRecord), and one notification.
    // Then the flow state: window entries $6 keys, $7 units, $8 job ids, $9 versions; holds $10
    // keys, $11 job ids, $12 versions; tags $13 modes, $14 groups, $15 finish, $16 stamps;
    // clocks $17 modes, $18 virtual, $19 stamps. A hold row of a job is replaced (one slot per
    // job and key). Every data-modifying WITH clause runs, read or not.
    this.#claim = `WITH u AS (
        UPDATE ${jobs} j SET status = 'running', attempts = j.attempts + 1, updated_at = $1::bigint, version = j.version + 1,
          lease_owner = $3, lease_expires_at = $1::bigint + $4::bigint
        WHERE j.id = ANY($2::text[]) AND j.status IN ('pending', 'retrying')
        RETURNING ${JOB_COLUMNS.split(", ")
          .map((c) => `j.${c}`)
          .join(", ")}, j.lease_expires_at::float8 AS expires_at
      ),
      n AS (SELECT pg_notify($5, nextval(${seq})::text) AS sent FROM (SELECT 1 FROM u LIMIT 1) AS one),
      w AS (
        INSERT INTO ${s}.flow_window (key, at, units, job_id, version)
        SELECT x.key, $1::bigint, x.units, x.job_id, x.version FROM unnest($6::text[], $7::bigint[], $8::text[], $9::bigint[]) AS x(key, units, job_id, version)
      ),
      h AS (
        INSERT INTO ${s}.flow_holds (key, job_id, version) SELECT * FROM unnest($10::text[], $11::text[], $12::bigint[])
        ON CONFLICT (key, job_id) DO UPDATE SET version = EXCLUDED.version
      ),
      t AS (
        INSERT INTO ${s}.flow_tags (mode, grp, finish, stamp) SELECT * FROM unnest($13::text[], $14::text[], $15::float8[], $16::bigint[])
        ON CONFLICT (mode, grp) DO UPDATE SET finish = EXCLUDED.finish, stamp = EXCLUDED.stamp
      ),
      c AS (
        INSERT INTO ${s}.flow_clock (mode, virtual, stamp) SELECT * FROM unnest($17::text[], $18::float8[], $19::bigint[])
        ON CONFLICT (mode) DO UPDATE SET virtual = EXCLUDED.virtual, stamp = EXCLUDED.stamp
      )
      SELECT u.*, (SELECT count(*) FROM n) AS notified FROM u`;
    // $1 key, $2 job id, $3 version, $4 units, $5 channel. A credit may make room: notify.
    this.#charge = `WITH u AS (
        UPDATE ${s}.flow_window SET units = $4::bigint WHERE key = $1 AND job_id = $2 AND version = $3::bigint RETURNING 1
      ),
      n AS (SELECT pg_notify($5, nextval(${seq})::text) AS sent FROM (SELECT 1 FROM u LIMIT 1) AS one)
      SELECT (SELECT count(*) FROM u)::int AS changed, (SELECT count(*) FROM n)::int AS notified`;
  }

  /** The texts of the group listing and the candidate fetches (for the plans test). */
  get statements(): { readonly groups: string; readonly chunks: string; readonly limitChunks: string } {
    return { groups: this.#groups, chunks: this.#chunks, limitChunks: this.#limitChunks };
  }

  /**
   * One flow claim in `trx`: lock, plan every mode (sorted), write the claimed records and the
   * flow state. `clockNow` is the injected clock's value, or `null` for the database's time.
   * `onCorrupt` gets each candidate row that cannot be read (it is left as it is).
   */
  async claim(
    trx: Executor,
    request: CheckedFlowClaim,
    clockNow: number | null,
    channel: string,
    onCorrupt: (error: CorruptRecordError) => void,
  ): Promise<FlowClaimOutcome> {
    const now = (await run<{ now: number }>(trx, this.#lock, [this.#lockKey, clockNow]))[0]!.now;
    const { windows, running } = await this.#readLimits(trx, request, now);
    const handlers = request.handlers ?? null;
    const read = (row: CandidateRow): Job | undefined => {
      try {
        return readJob(row);
      } catch (e) {
        if (!(e instanceof CorruptRecordError)) throw e;
        onCorrupt(e);
        return undefined;
      }
    };

    // A claim of given ids: every candidate at once, by mode and group, nothing left to fetch.
    let byIds: Map<string, Map<string, Buffer>> | undefined;
    let modes: string[];
    if (request.ids !== undefined) {
      byIds = new Map();
      const rows = await run<CandidateRow>(trx, this.#byIds, [now, request.ids, request.modes ?? null, handlers]);
      for (const row of rows) {
        const job = read(row);
        if (job === undefined) continue;
        let groups = byIds.get(row.mode);
        if (groups === undefined) byIds.set(row.mode, (groups = new Map<string, Buffer>()));
        const g = job.group ?? "";
        let buffer = groups.get(g);
        if (buffer === undefined) groups.set(g, (buffer = { jobs: [], exhausted: true, afterKey: null, afterId: null, chunk: 0 }));
        buffer.jobs.push(job);
      }
      modes = [...byIds.keys()];
    } else if (request.modes !== undefined) {
      modes = [...new Set(request.modes)];
    } else {
      modes = (await run<{ mode: string }>(trx, this.#modes, [now, handlers])).map((r) => r.mode);
    }
    modes.sort(byCodeUnits);

    const claimedIds: string[] = [];
    const writes = new StateWrites();
    let refused = 0;
    const waiting: Record<string, number> = {};
    let retryAt: number | undefined;
    for (const mode of modes) {
      const left = request.limit - claimedIds.length;
      if (left === 0) break;
      const source =
        byIds === undefined
          ? await this.#groupSource(trx, mode, now, handlers, left, read)
          : {
              buffers: byIds.get(mode)!,
              tags: new Map<string, FlowGroupTag>(),
              clock: { virtual: 0, stamp: 0 },
              recordsChunk: RECORDS_CHUNK,
            };
      if (byIds !== undefined) await this.#readTags(trx, mode, source);
      let plan: FlowPlan;
      for (;;) {
        const reader = new BufferedReader(source, windows, running);
        try {
          plan = planFlowClaim(reader, request, left, now);
          break;
        } catch (e) {
          if (e instanceof NeedRecords) {
            await this.#readRecords(trx, e.entries, now, mode, handlers, read);
            source.recordsChunk = Math.min(MAX_CHUNK, source.recordsChunk * 2);
            continue;
          }
          if (!(e instanceof NeedMore)) throw e;
          // The groups this attempt used up will likely be asked for next: refill them together.
          await this.#fetch(trx, mode, now, handlers, source.buffers, reader.drained(e.group), read, e.limitsOnly);
        }
      }
      refused += plan.refused;
      addWaiting(waiting, plan);
      if (plan.retryAt !== undefined) retryAt = Math.min(retryAt ?? Number.POSITIVE_INFINITY, plan.retryAt);
      if (plan.picks.length === 0) continue;
      // This claim's admissions count for the modes planned after this one.
      for (const { job, admissions } of plan.picks) {
        claimedIds.push(job.id);
        const version = job.version + 1; // what the update below writes
        for (const a of admissions) {
          if (a.rate) {
            let entries = windows.get(a.key);
            if (entries === undefined) windows.set(a.key, (entries = []));
            entries.push([now, a.units]);
            writes.window(a.key, a.units, job.id, version);
          }
          if (a.slot) {
            running.set(a.key, (running.get(a.key) ?? 0) + 1);
            writes.hold(a.key, job.id, version);
          }
        }
      }
      for (const [group, tag] of plan.tags) writes.tag(mode, group, tag);
      writes.clock(mode, plan.clock);
    }
    if (claimedIds.length === 0) return { rows: [], refused, waiting, retryAt };
    const rows = await run<FlowClaimRow>(trx, this.#claim, [now, claimedIds, request.owner, request.leaseMs, channel, ...writes.params()]);
    const byId = new Map(rows.map((r) => [r.id, r]));
    return { rows: claimedIds.flatMap((id) => byId.get(id) ?? []), refused, waiting, retryAt };
  }

  /** Applies a charge; true when its window entry exists. */
  async charge(db: Executor, charge: FlowCharge, channel: string): Promise<boolean> {
    const [row] = await run<{ changed: number }>(db, this.#charge, [charge.key, charge.jobId, charge.version, charge.units, channel]);
    return (row?.changed ?? 0) > 0;
  }

  async #readLimits(
    trx: Executor,
    request: CheckedFlowClaim,
    now: number,
  ): Promise<{ windows: Map<string, FlowWindowEntry[]>; running: Map<string, number> }> {
    const rateKeys: string[] = [];
    const perMs: number[] = [];
    const slotKeys: string[] = [];
    for (const [key, def] of request.limitMap) {
      if (def.rate !== undefined) {
        rateKeys.push(key);
        perMs.push(def.rate.perMs);
      }
      if (def.maxConcurrent !== undefined) slotKeys.push(key);
    }
    const windows = new Map<string, FlowWindowEntry[]>();
    const running = new Map<string, number>();
    if (rateKeys.length + slotKeys.length === 0) return { windows, running };
    const rows = await run<{ key: string; at: number | null; units: number | null; running: number | null }>(trx, this.#limitsState, [
      rateKeys,
      perMs,
      slotKeys,
      now,
    ]);
    for (const row of rows) {
      if (row.running !== null) {
        running.set(row.key, row.running);
        continue;
      }
      let entries = windows.get(row.key);
      if (entries === undefined) windows.set(row.key, (entries = []));
      entries.push([row.at!, row.units!]);
    }
    for (const entries of windows.values()) entries.sort((a, b) => a[0] - b[0]);
    return { windows, running };
  }

  /** A mode's groups, tags and clock, and a first chunk of the groups the planner picks first. */
  async #groupSource(
    trx: Executor,
    mode: string,
    now: number,
    handlers: readonly string[] | null,
    limit: number,
    read: (row: CandidateRow) => Job | undefined,
  ): Promise<Source> {
    const rows = await run<{ kind: string; grp: string | null; finish: number | null; stamp: number | null }>(trx, this.#groups, [mode]);
    const tags = new Map<string, FlowGroupTag>();
    let clock: FlowModeClock = { virtual: 0, stamp: 0 };
    const names: string[] = [""];
    for (const row of rows) {
      if (row.kind === "c") clock = { virtual: row.finish!, stamp: row.stamp! };
      else {
        if (row.kind === "g") names.push(row.grp!);
        if (row.finish !== null) tags.set(row.grp!, { finish: row.finish, stamp: row.stamp! });
      }
    }
    const buffers = new Map<string, Buffer>();
    // Most picks of a claim come from the groups first in start-tag order; a group's share of
    // `limit` is about limit / groups. Other groups are fetched when the planner reaches them.
    names.sort(pickOrder(tags, clock.virtual));
    const first = Math.min(names.length, limit + EXTRA_GROUPS);
    const chunk = Math.min(MAX_CHUNK, Math.ceil(limit / first) + 1);
    for (const name of names) buffers.set(name, { jobs: [], exhausted: false, afterKey: null, afterId: null, chunk });
    await this.#fetch(trx, mode, now, handlers, buffers, names.slice(0, first), read);
    return { buffers, tags, clock, recordsChunk: RECORDS_CHUNK };
  }

  /** The tags and clock of `mode` into `source` (a claim of given ids, whose groups are known). */
  async #readTags(trx: Executor, mode: string, source: Source): Promise<void> {
    const rows = await run<{ grp: string | null; finish: number; stamp: number }>(trx, this.#tagsOf, [mode, [...source.buffers.keys()]]);
    for (const row of rows) {
      if (row.grp === null) source.clock = { virtual: row.finish, stamp: row.stamp };
      else source.tags.set(row.grp, { finish: row.finish, stamp: row.stamp });
    }
  }

  /**
   * The records of limits-only candidates (one statement, locking them); a corrupt one is
   * reported and passed by, as is one no longer due or held by another claimer.
   */
  async #readRecords(
    trx: Executor,
    entries: readonly LimitsEntry[],
    now: number,
    mode: string,
    handlers: readonly string[] | null,
    read: (row: CandidateRow) => Job | undefined,
  ): Promise<void> {
    const rows = await run<CandidateRow>(trx, this.#records, [entries.map((e) => e.id), now, mode, handlers]);
    const byId = new Map(rows.map((r) => [r.id, r]));
    for (const entry of entries) {
      const row = byId.get(entry.id);
      // Limits-only rows are not locked: one that moved in claim order since it was read (taken
      // and put back by another claimer) is met again at its new place, or not at all.
      entry.job = row === undefined || row.aging_key !== entry.agingKey ? null : (read(row) ?? null);
    }
  }

  /** Fetches the next chunk of each group of `groups` into its buffer (one statement). */
  async #fetch(
    trx: Executor,
    mode: string,
    now: number,
    handlers: readonly string[] | null,
    buffers: Map<string, Buffer>,
    groups: readonly string[],
    read: (row: CandidateRow) => Job | undefined,
    limitsOnly = false,
  ): Promise<void> {
    if (groups.length === 0) return;
    const list = groups.map((g) => buffers.get(g)!);
    // Limits-only rows are small: read many at once (a claim looks at up to MAX_FLOW_SCAN).
    if (limitsOnly) for (const b of list) b.chunk = Math.max(b.chunk, MAX_CHUNK / 2);
    const limitsOf = storedLimitsReader();
    const rows = await run<CandidateRow | LimitsRow>(trx, limitsOnly ? this.#limitChunks : this.#chunks, [
      now,
      mode,
      handlers,
      groups.map((g) => (g === "" ? null : g)),
      list.map((b) => b.afterKey),
      list.map((b) => b.afterId),
      list.map((b) => b.chunk),
    ]);
    const got = new Array<number>(list.length).fill(0);
    for (const row of rows) {
      const buffer = list[row.ord - 1]!;
      got[row.ord - 1]!++;
      buffer.afterKey = row.aging_key;
      buffer.afterId = row.id;
      if (limitsOnly) {
        buffer.jobs.push({ id: row.id, agingKey: row.aging_key, limits: limitsOf((row as LimitsRow).limits) });
        continue;
      }
      const job = read(row as CandidateRow);
      if (job !== undefined) buffer.jobs.push(job);
    }
    list.forEach((buffer, i) => {
      // Fewer rows than asked: none is left past the cursor (but rows other claimers hold).
      if (got[i]! < buffer.chunk) buffer.exhausted = true;
      buffer.chunk = Math.min(MAX_CHUNK, buffer.chunk * 2);
    });
  }
}

/** What the reader of one mode reads from. */
interface Source {
  readonly buffers: Map<string, Buffer>;
  readonly tags: Map<string, FlowGroupTag>;
  clock: FlowModeClock;
  /** How many records the next read behind a held limit takes ({@link RECORDS_CHUNK}, doubling). */
  recordsChunk: number;
}

/** A reader over `source` for one plan attempt (each starts at the head of every group). */
class BufferedReader implements FlowReader {
  readonly #source: Source;
  readonly #windows: ReadonlyMap<string, readonly FlowWindowEntry[]>;
  readonly #running: ReadonlyMap<string, number>;
  readonly #cursor = new Map<string, number>();

  constructor(source: Source, windows: ReadonlyMap<string, readonly FlowWindowEntry[]>, running: ReadonlyMap<string, number>) {
    this.#source = source;
    this.#windows = windows;
    this.#running = running;
  }

  groups(): Iterable<string> {
    return [...this.#source.buffers].filter(([, b]) => b.jobs.length > 0 || !b.exhausted).map(([g]) => g);
  }

  next(group: string, refuses?: (limits: readonly JobLimit[]) => boolean): Job | FlowPassedOver | undefined {
    const buffer = this.#source.buffers.get(group);
    if (buffer === undefined) return undefined;
    for (;;) {
      const i = this.#cursor.get(group) ?? 0;
      this.#cursor.set(group, Math.min(i + 1, buffer.jobs.length));
      const entry = buffer.jobs[i];
      if (entry === undefined) {
        if (buffer.exhausted) return undefined;
        throw new NeedMore(group, refuses !== undefined);
      }
      if (!isLimitsEntry(entry)) return entry;
      if (entry.job === null) continue; // corrupt: reported when its record was read
      if (entry.job !== undefined) return entry.job;
      if (entry.limits !== undefined && refuses?.(entry.limits) === true) return { passedOver: entry.limits };
      // Its record, and those of the next candidates of the group read by their limits that the
      // test does not refuse now (what it refuses stays refused: held limits only grow).
      const unread = buffer.jobs
        .slice(i, i + this.#source.recordsChunk)
        .filter(
          (e): e is LimitsEntry =>
            isLimitsEntry(e) && e.job === undefined && (e === entry || e.limits === undefined || refuses?.(e.limits) !== true),
        );
      throw new NeedRecords(unread);
    }
  }

  tag(group: string): FlowGroupTag | undefined {
    return this.#source.tags.get(group);
  }

  clock(): FlowModeClock {
    return this.#source.clock;
  }

  // The window's entries were read with the limits' state (one statement per claim); summing them
  // here is O(entries) per claim, where SQLite keeps a running sum.
  windowUnits(key: string, since: number): number {
    let sum = 0;
    for (const [at, units] of this.#windows.get(key) ?? []) if (at > since) sum += units;
    return sum;
  }

  windowEntries(key: string, since: number): readonly FlowWindowEntry[] {
    return (this.#windows.get(key) ?? []).filter(([at]) => at > since);
  }

  running(key: string): number {
    return this.#running.get(key) ?? 0;
  }

  /** `group` and every other group this attempt read to the end of its fetched jobs, with more to fetch. */
  drained(group: string): string[] {
    const out = [group];
    for (const [g, i] of this.#cursor) {
      const buffer = this.#source.buffers.get(g)!;
      if (g !== group && !buffer.exhausted && i >= buffer.jobs.length) out.push(g);
    }
    return out;
  }
}

/** The flow state a claim writes, as the parallel arrays of its statement. */
class StateWrites {
  readonly #window: [string[], number[], string[], number[]] = [[], [], [], []];
  readonly #holds: [string[], string[], number[]] = [[], [], []];
  readonly #tags: [string[], string[], number[], number[]] = [[], [], [], []];
  readonly #clocks: [string[], number[], number[]] = [[], [], []];

  window(key: string, units: number, jobId: string, version: number): void {
    this.#window[0].push(key);
    this.#window[1].push(units);
    this.#window[2].push(jobId);
    this.#window[3].push(version);
  }

  hold(key: string, jobId: string, version: number): void {
    this.#holds[0].push(key);
    this.#holds[1].push(jobId);
    this.#holds[2].push(version);
  }

  tag(mode: string, group: string, tag: FlowGroupTag): void {
    this.#tags[0].push(mode);
    this.#tags[1].push(group);
    this.#tags[2].push(tag.finish);
    this.#tags[3].push(tag.stamp);
  }

  clock(mode: string, clock: FlowModeClock): void {
    this.#clocks[0].push(mode);
    this.#clocks[1].push(clock.virtual);
    this.#clocks[2].push(clock.stamp);
  }

  params(): unknown[] {
    return [...this.#window, ...this.#holds, ...this.#tags, ...this.#clocks];
  }
}
