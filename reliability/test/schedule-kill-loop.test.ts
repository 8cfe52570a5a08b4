// Scenario — schedules under a kill loop. Three engine processes on one SQLite file declare the
// same once-a-minute schedule (with catch-up) on a shared fast clock (60×: a tick per real
// second) and are SIGKILLed at seeded moments around tick times — sometimes all of them at once —
// and restarted. A final process catches up and drains. The audit: exactly one job per tick
// from the schedule's creation to its last recorded tick (none lost, none extra, ids unique by
// construction), every tick job finished, and the last tick recorded is the last one due.
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { SqliteJobStore } from "@pyrexis/storage-sqlite";
import { seededRandom, tempDir, waitFor } from "@pyrexis/test-utils";
import { allJobs, CHAOS, killLiveChildren, recordFigures, seedFor, startFixtureProc, type EngineProc } from "./helpers.js";

const cleanups: (() => void)[] = [];
afterEach(() => {
  killLiveChildren();
  for (const c of cleanups.splice(0)) c();
});

const ROUNDS = CHAOS ? 60 : 4;
const SPEED = 60;
const MIN = 60_000;
const NAME = "kill-loop";

describe("schedules under a kill loop", () => {
  it(
    `exactly one job per tick while engines are killed around tick times (${ROUNDS} rounds, 3 engines)`,
    { timeout: CHAOS ? 900_000 : 240_000 },
    async () => {
      const seed = seedFor("schedule-kill-loop", 0x5c4ed);
      const random = seededRandom(seed);
      const { dir, remove } = tempDir("pyrexis-rel-sched-");
      cleanups.push(remove);
      const start = Date.now();
      const cfg = { db: join(dir, "sched.db"), base: Date.parse("2030-01-01T00:00:30.000Z"), start, speed: SPEED, name: NAME };
      const virtualNow = (): number => Math.floor(cfg.base + (Date.now() - start) * SPEED);
      const startOne = async (): Promise<EngineProc> => {
        const proc = startFixtureProc("schedule-proc.mjs", cfg);
        await waitFor("engine ready", () => proc.lines.includes("ready") || proc.child.exitCode !== null, { timeoutMs: 60_000 });
        expect(proc.lines, proc.stderr.join("")).toContain("ready");
        return proc;
      };
      // The first process alone, so the schedule's creation time is one process's.
      const procs: (EngineProc | undefined)[] = [await startOne(), undefined, undefined];
      procs[1] = await startOne();
      procs[2] = await startOne();
      let kills = 0;
      let allDown = 0;
      const stderr: string[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        // Aim at a tick: the next virtual minute, ±3 virtual seconds (±50 ms real).
        const nextTick = Math.ceil(virtualNow() / MIN) * MIN;
        const aim = nextTick + (random() * 6000 - 3000);
        const waitMs = Math.max(0, (aim - virtualNow()) / SPEED);
        await new Promise((r) => setTimeout(r, waitMs));
        const everyone = random() < 0.2;
        const victims = everyone ? [0, 1, 2] : [Math.floor(random() * 3)];
        for (const i of victims) {
          const p = procs[i];
          if (p === undefined) continue;
          p.child.kill("SIGKILL");
          await p.exited;
          stderr.push(...p.stderr);
          procs[i] = undefined;
          kills++;
        }
        if (everyone) {
          allDown++;
          // Nobody runs for one to three ticks: catch-up must bring them back.
          await new Promise((r) => setTimeout(r, (1 + random() * 2) * (MIN / SPEED)));
        }
        for (const i of victims) procs[i] = await startOne();
      }
      // Stop everyone gracefully, then let one engine catch up and drain.
      for (const p of procs) p?.child.kill("SIGTERM");
      for (const p of procs) if (p) stderr.push(...p.stderr, `exit ${JSON.stringify(await p.exited)}\n`);
      const last = await startOne();
      const store = await SqliteJobStore.open({ path: cfg.db });
      cleanups.push(() => void store.close());
      const dueBy = Math.floor(virtualNow() / MIN) * MIN;
      await waitFor(
        "the last due tick recorded and every job finished",
        async () => {
          const s = await store.getSchedule(NAME);
          const c = await store.countByStatus();
          return (s?.lastTickAt ?? 0) >= dueBy && c.pending + c.running + c.retrying === 0;
        },
        { timeoutMs: 60_000 },
      );
      last.child.kill("SIGTERM");
      await last.exited;
      stderr.push(...last.stderr);

      const schedule = (await store.getSchedule(NAME))!;
      const jobs = (await allJobs(store)).filter((j) => j.id.startsWith(`schedule:${NAME}:`));
      const expected: string[] = [];
      for (let t = Math.floor(schedule.createdAt / MIN) * MIN + MIN; t <= schedule.lastTickAt!; t += MIN) {
        expected.push(`schedule:${NAME}:${new Date(t).toISOString()}`);
      }
      const ids = jobs.map((j) => j.id).sort();
      expect(ids, "one job per tick: none lost, none extra").toEqual(expected);
      // A tick's job runs at its tick (a retried one later, by its backoff).
      const offTick = jobs.filter((j) => j.attempts === 1 && j.runAt !== Date.parse(j.id.slice(`schedule:${NAME}:`.length)));
      expect(offTick).toEqual([]);
      const unfinished = jobs.filter((j) => j.status !== "completed" && !(j.status === "failed" && j.lastError?.code === "INTERRUPTED"));
      expect(unfinished).toEqual([]);
      const errors = stderr
        .join("")
        .split("\n")
        .filter((l) => l.startsWith("engine:error") && !/INTERRUPTED|interrupted/.test(l));
      recordFigures("schedule-kill-loop", {
        seed,
        rounds: ROUNDS,
        kills,
        allDown,
        ticks: expected.length,
        jobs: jobs.length,
        engineErrors: errors.length,
      });
      console.log(
        `[reliability] schedule-kill-loop: ${kills} kills (${allDown} with every engine down), ${expected.length} ticks, ${jobs.length} jobs`,
      );
      expect(errors).toEqual([]);
    },
  );
});
