// Not a job engine: raw better-sqlite3 doing a job's four lifecycle writes (insert pending,
// mark running, mark completed, insert result) in transactions of 100 jobs, WAL +
// synchronous=NORMAL like the Pyrexis SQLite store. The floor any SQLite-backed engine pays.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { runTask } from "../work.mjs";
import { mapLimit } from "./common.mjs";

const BATCH = 100;

/** @typedef {import("./common.mjs").Payload} Payload */

/** @returns {import("./common.mjs").Driver} */
function create() {
  /** @type {string | undefined} */
  let dir;
  /** @type {import("better-sqlite3").Database} set by setup() */
  let db;
  let running = false;
  /** @type {Promise<void> | undefined} */
  let loop;
  return {
    async setup() {
      dir = mkdtempSync(join(tmpdir(), "pyrexis-bench-raw-"));
      db = new Database(join(dir, "jobs.db"));
      db.pragma("journal_mode = WAL");
      db.pragma("synchronous = NORMAL");
      db.exec(`CREATE TABLE jobs (id INTEGER PRIMARY KEY, status TEXT NOT NULL, payload TEXT NOT NULL, updated_at INTEGER NOT NULL);
               CREATE INDEX jobs_status ON jobs (status, id);
               CREATE TABLE results (job_id INTEGER PRIMARY KEY, output TEXT, ended_at INTEGER NOT NULL);`);
    },
    async add(jobs) {
      const insert = db.prepare("INSERT INTO jobs (status, payload, updated_at) VALUES ('pending', ?, ?)");
      const tx = db.transaction((/** @type {import("./common.mjs").Job[]} */ chunk) => {
        for (const job of chunk) insert.run(JSON.stringify(job.payload), Date.now());
      });
      for (let i = 0; i < jobs.length; i += BATCH) tx(jobs.slice(i, i + BATCH));
    },
    async start({ concurrency, task, onStart, onComplete }) {
      /** @type {import("better-sqlite3").Statement<[number], { id: number, payload: string }>} */
      const claim = db.prepare("SELECT id, payload FROM jobs WHERE status = 'pending' ORDER BY id LIMIT ?");
      const mark = db.prepare("UPDATE jobs SET status = ?, updated_at = ? WHERE id = ?");
      const result = db.prepare("INSERT INTO results (job_id, output, ended_at) VALUES (?, ?, ?)");
      const claimTx = db.transaction(() => {
        const rows = claim.all(BATCH);
        for (const row of rows) mark.run("running", Date.now(), row.id);
        return rows;
      });
      const finishTx = db.transaction((/** @type {{ id: number, output: unknown }[]} */ done) => {
        for (const { id, output } of done) {
          mark.run("completed", Date.now(), id);
          result.run(id, JSON.stringify(output ?? null), Date.now());
        }
      });
      running = true;
      loop = (async () => {
        while (running) {
          const rows = claimTx();
          if (rows.length === 0) {
            await new Promise((r) => setTimeout(r, 1));
            continue;
          }
          /** @type {{ id: number, output: unknown }[]} */
          const done = [];
          /** @type {Payload[]} */
          const payloads = [];
          await mapLimit(rows, concurrency, async (row) => {
            const payload = /** @type {Payload} */ (JSON.parse(row.payload));
            onStart(payload);
            done.push({ id: row.id, output: await runTask(task, payload) });
            payloads.push(payload);
          });
          finishTx(done);
          for (const p of payloads) onComplete(p);
        }
      })();
    },
    async stop() {
      running = false;
      await loop;
    },
    async cleanup() {
      running = false;
      await loop;
      db?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** @type {import("./common.mjs").Variant[]} */
export const variants = [
  {
    id: "raw-sqlite",
    label: "raw better-sqlite3 (4 writes/job, tx of 100)",
    pkg: "better-sqlite3",
    priority: "none",
    scenarios: ["drain-c1", "drain-c50"],
    notes: "floor, not an engine",
    create,
  },
];
