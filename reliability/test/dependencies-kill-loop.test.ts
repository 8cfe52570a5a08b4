// Scenario — dependencies under a kill loop. Three engine processes on one SQLite file run a
// seeded random DAG of jobs (fan-out, fan-in, long chains; a few jobs planned to fail for good)
// and are SIGKILLed at seeded moments and restarted; a last process drains. The audit against a
// model of the graph: every job ended as the failure policy says (completed, or failed because it
// or an ancestor failed — never lost, never waiting), no job started before each of its parents'
// last run ended, no dependent of a failed job ever started, and no job ran more often than its
// attempts allow.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { SqliteJobStore } from "@pyrexis/storage-sqlite";
import type { JobSpecInput } from "@pyrexis/models";
import { seededRandom, tempDir, waitFor } from "@pyrexis/test-utils";
import { allJobs, CHAOS, killLiveChildren, recordFigures, seedFor, startFixtureProc, type EngineProc } from "./helpers.js";

const cleanups: (() => void)[] = [];
afterEach(() => {
  killLiveChildren();
  for (const c of cleanups.splice(0)) c();
});

const ROUNDS = CHAOS ? 40 : 5;
const NODES = CHAOS ? 3000 : 400;

interface Node {
  readonly id: string;
  readonly parents: readonly string[];
  readonly planned: boolean;
}

/** A seeded DAG: each node depends on up to three of the 50 before it; about 3% fail on every attempt. */
function makeGraph(random: () => number): Node[] {
  const nodes: Node[] = [];
  for (let i = 0; i < NODES; i++) {
    const parents = new Set<string>();
    const k = i === 0 ? 0 : Math.floor(random() * 4);
    for (let j = 0; j < k; j++) parents.add(`d${String(Math.max(0, i - 1 - Math.floor(random() * 50))).padStart(5, "0")}`);
    nodes.push({ id: `d${String(i).padStart(5, "0")}`, parents: [...parents], planned: random() < 0.03 });
  }
  return nodes;
}

describe("dependencies under a kill loop", () => {
  it(
    `every job of a ${NODES}-node graph ends as the failure policy says, never before its parents (${ROUNDS} rounds, 3 engines)`,
    { timeout: CHAOS ? 900_000 : 240_000 },
    async () => {
      const seed = seedFor("dependencies-kill-loop", 0xdea6);
      const random = seededRandom(seed);
      const { dir, remove } = tempDir("pyrexis-rel-deps-");
      cleanups.push(remove);
      const nodes = makeGraph(random);
      const specs: JobSpecInput[] = nodes.map((n) => ({
        id: n.id,
        handler: "work",
        payload: { i: 0, ms: 100 + Math.floor(random() * 300), failUntil: n.planned ? 99 : 0 },
        // Kills interrupt attempts; enough of them that only planned failures end failed.
        maxAttempts: n.planned ? 2 : 30,
        backoff: { baseMs: 5, maxMs: 50 },
        ...(n.parents.length > 0 ? { dependsOn: n.parents } : {}),
      }));
      const cfg = { db: join(dir, "deps.db"), log: join(dir, "runs.log"), graph: join(dir, "graph.json"), exit: "never" };
      writeFileSync(cfg.graph, JSON.stringify(specs));
      const startOne = async (exit = "never"): Promise<EngineProc> => {
        const proc = startFixtureProc("deps-proc.mjs", { ...cfg, exit });
        await waitFor("engine ready", () => proc.lines.includes("ready") || proc.child.exitCode !== null, { timeoutMs: 60_000 });
        expect(proc.lines, proc.stderr.join("")).toContain("ready");
        return proc;
      };
      const procs: (EngineProc | undefined)[] = [await startOne(), await startOne(), await startOne()];
      const stderr: string[] = [];
      let kills = 0;
      for (let round = 0; round < ROUNDS; round++) {
        await new Promise((r) => setTimeout(r, 150 + random() * 350));
        const i = Math.floor(random() * 3);
        const p = procs[i]!;
        p.child.kill("SIGKILL");
        await p.exited;
        stderr.push(...p.stderr);
        kills++;
        procs[i] = await startOne();
      }
      for (const p of procs) p?.child.kill("SIGTERM");
      for (const p of procs) if (p) stderr.push(...p.stderr, `exit ${JSON.stringify(await p.exited)}\n`);
      const last = await startOne("drain");
      const exited = await last.exited;
      stderr.push(...last.stderr);
      expect(exited, last.stderr.join("")).toEqual({ code: 0, signal: null });

      const store = await SqliteJobStore.open({ path: cfg.db });
      cleanups.push(() => void store.close());
      const jobs = new Map((await allJobs(store)).map((j) => [j.id, j]));
      // The model: a job fails when it is planned to, or when a parent failed; else it completes.
      const expected = new Map<string, "completed" | "failed">();
      for (const n of nodes) expected.set(n.id, n.planned || n.parents.some((p) => expected.get(p) === "failed") ? "failed" : "completed");
      const wrong = nodes.filter((n) => jobs.get(n.id)?.status !== expected.get(n.id)).map((n) => `${n.id}: ${jobs.get(n.id)?.status}`);
      expect(wrong, "every job ended as the failure policy says").toEqual([]);
      const cascaded = nodes.filter((n) => !n.planned && expected.get(n.id) === "failed");
      for (const n of cascaded) expect(jobs.get(n.id)?.lastError?.code, n.id).toBe("DEPENDENCY_FAILED");

      // The run log: starts and ends per job, across every process.
      const starts = new Map<string, number[]>();
      const ends = new Map<string, number[]>();
      for (const line of readFileSync(cfg.log, "utf8").split("\n")) {
        const [kind, id, , at] = line.split(" ");
        if (id === undefined || at === undefined) continue;
        const map = kind === "start" ? starts : kind === "end" ? ends : undefined;
        if (map === undefined) continue;
        const list = map.get(id) ?? [];
        list.push(Number(at));
        map.set(id, list);
      }
      const early: string[] = [];
      for (const n of nodes) {
        const firstStart = Math.min(...(starts.get(n.id) ?? [Infinity]));
        for (const p of n.parents) {
          const lastEnd = Math.max(...(ends.get(p) ?? [-Infinity]));
          if (firstStart < lastEnd) early.push(`${n.id} started ${lastEnd - firstStart} ms before ${p} ended`);
        }
      }
      expect(early, "no job starts before its parents' last runs ended").toEqual([]);
      expect(
        cascaded.filter((n) => starts.has(n.id)).map((n) => n.id),
        "no dependent of a failed job ever starts",
      ).toEqual([]);
      const overRun = nodes.filter((n) => (starts.get(n.id)?.length ?? 0) > (n.planned ? 2 : 30)).map((n) => n.id);
      expect(overRun).toEqual([]);
      const errors = stderr
        .join("")
        .split("\n")
        .filter((l) => l.startsWith("engine:error") && !/INTERRUPTED|interrupted|planned failure/.test(l));
      recordFigures("dependencies-kill-loop", {
        seed,
        rounds: ROUNDS,
        kills,
        nodes: NODES,
        planned: nodes.filter((n) => n.planned).length,
        cascaded: cascaded.length,
        interruptedRuns: [...starts.values()].reduce((s, l) => s + l.length, 0) - [...ends.values()].reduce((s, l) => s + l.length, 0),
        engineErrors: errors.length,
      });
      expect(errors).toEqual([]);
    },
  );
});
