import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  canTransition,
  IllegalTransitionError,
  isPyrexisError,
  isTerminal,
  JOB_STATUSES,
  startAttempt,
  TERMINAL_STATUSES,
  transition,
  type JobStatus,
} from "../src/index.js";
import { jobIn, makeJob } from "./helpers.js";

// Written out by hand from the README's state machine, deliberately not derived from TRANSITIONS.
const EXPECTED: Record<JobStatus, Record<JobStatus, boolean>> = {
  //          created waiting pending running retrying completed failed cancelled
  created: {
    created: false,
    waiting: true,
    pending: true,
    running: false,
    retrying: false,
    completed: false,
    failed: false,
    cancelled: true,
  },
  waiting: {
    created: false,
    waiting: false,
    pending: true,
    running: false,
    retrying: false,
    completed: false,
    failed: true,
    cancelled: true,
  },
  pending: {
    created: false,
    waiting: false,
    pending: false,
    running: true,
    retrying: false,
    completed: false,
    failed: false,
    cancelled: true,
  },
  running: {
    created: false,
    waiting: false,
    pending: false,
    running: false,
    retrying: true,
    completed: true,
    failed: true,
    cancelled: true,
  },
  retrying: {
    created: false,
    waiting: false,
    pending: false,
    running: true,
    retrying: false,
    completed: false,
    failed: true,
    cancelled: true,
  },
  completed: {
    created: false,
    waiting: false,
    pending: false,
    running: false,
    retrying: false,
    completed: false,
    failed: false,
    cancelled: false,
  },
  failed: {
    created: false,
    waiting: false,
    pending: false,
    running: false,
    retrying: false,
    completed: false,
    failed: false,
    cancelled: false,
  },
  cancelled: {
    created: false,
    waiting: false,
    pending: false,
    running: false,
    retrying: false,
    completed: false,
    failed: false,
    cancelled: false,
  },
};
const ALL = Object.keys(EXPECTED) as JobStatus[];
const CELLS = ALL.flatMap((from) => ALL.map((to) => [from, to, EXPECTED[from][to]] as const));

describe("state machine: the whole 8×8 table", () => {
  it("covers exactly the eight statuses", () => {
    expect([...JOB_STATUSES].sort()).toEqual([...ALL].sort());
    expect(CELLS).toHaveLength(64);
    expect(CELLS.filter((c) => c[2])).toHaveLength(15);
  });

  it.each(CELLS)("%s → %s allowed: %s", (from, to, allowed) => {
    expect(canTransition(from, to)).toBe(allowed);
    const job = jobIn(from, { version: 4, updatedAt: 10 });
    if (allowed) {
      const next = transition(job, to, 99);
      expect(next.status).toBe(to);
      expect(next.version).toBe(5);
      expect(next.updatedAt).toBe(99);
    } else {
      let thrown: unknown;
      try {
        transition(job, to, 99);
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toBeInstanceOf(IllegalTransitionError);
      const err = thrown as IllegalTransitionError;
      expect(err).toMatchObject({ code: "ILLEGAL_TRANSITION", jobId: "job-1", from, to, name: "IllegalTransitionError" });
      expect(err.message).toContain(`${from} → ${to}`);
      expect(isPyrexisError(err, "ILLEGAL_TRANSITION")).toBe(true);
    }
  });

  it("terminal statuses are exactly completed, failed, cancelled", () => {
    expect([...TERMINAL_STATUSES].sort()).toEqual(["cancelled", "completed", "failed"]);
    for (const s of ALL) expect(isTerminal(s)).toBe(Object.values(EXPECTED[s]).every((v) => !v));
  });

  it("rejects unknown statuses (e.g. from a corrupt row) with a typed error, not a TypeError", () => {
    const job = jobIn("constructor" as JobStatus);
    expect(canTransition("constructor" as JobStatus, "running")).toBe(false);
    expect(() => transition(job, "running", 1)).toThrow(IllegalTransitionError);
    expect(() => transition(makeJob(), "bogus" as JobStatus, 1)).toThrow(IllegalTransitionError);
  });
});

describe("transition()", () => {
  it("returns a new object and leaves the input unchanged", () => {
    const job = makeJob();
    const before = structuredClone(job);
    const next = transition(job, "running", 2_000, { attempts: 1 });
    expect(next).not.toBe(job);
    expect(job).toEqual(before);
    expect(next).toMatchObject({ status: "running", attempts: 1, version: 1, updatedAt: 2_000, createdAt: 1_000 });
  });

  it("a patch cannot override version or updatedAt", () => {
    const job = makeJob();
    const next = transition(job, "running", 5, { version: 77, updatedAt: 1 });
    expect(next.version).toBe(1);
    expect(next.updatedAt).toBe(5);
  });

  it("startAttempt counts the attempt when it starts and only from pending or retrying", () => {
    const running = startAttempt(makeJob(), 2_000);
    expect(running).toMatchObject({ status: "running", attempts: 1, version: 1 });
    expect(() => startAttempt(running, 2_001)).toThrow(IllegalTransitionError);
    const retrying = transition(running, "retrying", 2_002);
    expect(startAttempt(retrying, 3_000)).toMatchObject({ status: "running", attempts: 2, version: 3 });
    expect(() => startAttempt(jobIn("completed"), 1)).toThrow(IllegalTransitionError);
  });
});

describe("state machine properties (fast-check)", () => {
  // Statuses reachable from `created` by legal moves, computed from the hand-written table.
  const reachable = new Set<JobStatus>(["created"]);
  for (let grew = true; grew;) {
    grew = false;
    for (const from of [...reachable]) {
      for (const to of ALL) {
        if (EXPECTED[from][to] && !reachable.has(to)) {
          reachable.add(to);
          grew = true;
        }
      }
    }
  }

  it("random attempted transitions keep the job legal; terminal never changes; version counts successes", () => {
    const seed = 20_240_601;
    console.log(`state machine property seed: ${seed}`);
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...ALL), { maxLength: 40 }), (targets) => {
        let job = jobIn("created", { version: 0 });
        let successes = 0;
        for (const to of targets) {
          const from = job.status;
          try {
            job = transition(job, to, successes + 1);
            successes++;
            expect(EXPECTED[from][to]).toBe(true);
          } catch (e) {
            expect(e).toBeInstanceOf(IllegalTransitionError);
            expect(EXPECTED[from][to]).toBe(false);
            expect(job.status).toBe(from);
          }
          if (isTerminal(from)) expect(job.status).toBe(from);
          expect(reachable.has(job.status)).toBe(true);
        }
        expect(job.version).toBe(successes);
      }),
      { seed, numRuns: 500 },
    );
  });
});
