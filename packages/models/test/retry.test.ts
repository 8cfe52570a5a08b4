import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  backoffDelay,
  DEFAULT_BACKOFF,
  deserializeError,
  HandlerNotFoundError,
  IllegalTransitionError,
  ManualClock,
  NonRetryableError,
  recordFailure,
  serializeError,
  startAttempt,
  TimeoutError,
  type Job,
} from "../src/index.js";
import { makeJob } from "./helpers.js";

const noJitter = (): number => {
  throw new Error("random must not be drawn without jitter");
};

/** Runs attempts until the job fails; returns every outcome. */
function driveToFailure(job: Job, clock: ManualClock): { job: Job; retries: number; delays: number[] } {
  let retries = 0;
  const delays: number[] = [];
  for (let guard = 0; guard < 10_000; guard++) {
    job = startAttempt(job, clock.now());
    expect(job.attempts).toBeLessThanOrEqual(job.maxAttempts);
    clock.advance(10);
    const outcome = recordFailure(job, new Error(`boom ${job.attempts}`), clock.now(), noJitter);
    job = outcome.job;
    if (!outcome.willRetry) return { job, retries, delays };
    retries++;
    delays.push(outcome.delayMs);
    clock.set(job.runAt);
  }
  throw new Error("did not terminate");
}

describe("retries", () => {
  it.each([1, 2, 3, 10])("maxAttempts %i: exactly that many attempts, then failed", (maxAttempts) => {
    const clock = new ManualClock(1_000);
    const { job, retries } = driveToFailure(makeJob({ maxAttempts }, clock.now()), clock);
    expect(job.status).toBe("failed");
    expect(job.attempts).toBe(maxAttempts);
    expect(retries).toBe(maxAttempts - 1);
    expect(job.lastError?.message).toBe(`boom ${maxAttempts}`);
  });

  it("attempts are counted when an attempt starts, not when it fails", () => {
    const job = makeJob();
    expect(job.attempts).toBe(0);
    const running = startAttempt(job, 1);
    expect(running.attempts).toBe(1);
    expect(recordFailure(running, new Error("x"), 2, noJitter).job.attempts).toBe(1);
  });

  it("with the default backoff waits 2 s, 4 s, 8 s … and sets runAt = now + delay", () => {
    const clock = new ManualClock(5_000);
    let job = makeJob({ maxAttempts: 5 }, clock.now());
    const seen: number[] = [];
    for (let i = 0; i < 4; i++) {
      job = startAttempt(job, clock.now());
      clock.advance(123);
      const out = recordFailure(job, new Error("x"), clock.now(), noJitter);
      expect(out.willRetry).toBe(true);
      expect(out.job.status).toBe("retrying");
      expect(out.job.runAt).toBe(clock.now() + out.delayMs);
      seen.push(out.delayMs);
      job = out.job;
      clock.set(job.runAt);
    }
    expect(seen).toEqual([2_000, 4_000, 8_000, 16_000]);
  });

  it("records lastError with name, message, code and stack", () => {
    const running = startAttempt(makeJob(), 1);
    const error = new TimeoutError("job-1", 50);
    const out = recordFailure(running, error, 2, noJitter);
    expect(out.job.lastError).toEqual({ name: "TimeoutError", message: error.message, code: "TIMEOUT", stack: error.stack });
    expect(out.error).toEqual(out.job.lastError);
  });

  it("a thrown non-Error is still recorded usefully", () => {
    const out = recordFailure(startAttempt(makeJob(), 1), "plain string", 2, noJitter);
    expect(out.job.lastError).toEqual({ name: "NonError", message: "plain string" });
  });

  it("NonRetryableError fails at once, even with attempts left", () => {
    const running = startAttempt(makeJob({ maxAttempts: 10 }), 1);
    const out = recordFailure(running, new NonRetryableError("bad payload"), 2, noJitter);
    expect(out).toMatchObject({ willRetry: false, delayMs: 0 });
    expect(out.job.status).toBe("failed");
    expect(out.job.lastError?.code).toBe("NON_RETRYABLE");
  });

  it("an unknown handler fails at once and is recorded as HANDLER_NOT_FOUND, not NON_RETRYABLE", () => {
    const running = startAttempt(makeJob({ maxAttempts: 3 }), 1);
    const notFound = new HandlerNotFoundError("nope", ["echo"], { where: "worker thread 2" });
    // As it arrives from a worker: a plain Error with the name and code.
    const out = recordFailure(running, deserializeError(serializeError(notFound)), 2, noJitter);
    expect(out).toMatchObject({ willRetry: false, delayMs: 0 });
    expect(out.job).toMatchObject({ status: "failed", attempts: 1 });
    expect(out.job.lastError).toMatchObject({ name: "HandlerNotFoundError", code: "HANDLER_NOT_FOUND" });
    expect(out.job.lastError?.message).toContain("not retried");
  });

  it("an error marked nonRetryable (e.g. one rebuilt from another thread) also fails at once", () => {
    const running = startAttempt(makeJob({ maxAttempts: 10 }), 1);
    const marked = Object.assign(new Error("no"), { nonRetryable: true });
    expect(recordFailure(running, marked, 2, noJitter).job.status).toBe("failed");
  });

  it("only a running job can fail an attempt", () => {
    expect(() => recordFailure(makeJob(), new Error("x"), 2, noJitter)).toThrow(IllegalTransitionError);
  });
});

describe("backoffDelay", () => {
  it("doubles from 2·baseMs and caps at maxMs", () => {
    const b = { baseMs: 1_000, maxMs: 10_000, jitter: 0 };
    expect([1, 2, 3, 4, 5, 20].map((n) => backoffDelay(b, n, noJitter))).toEqual([2_000, 4_000, 8_000, 10_000, 10_000, 10_000]);
    expect(backoffDelay(DEFAULT_BACKOFF, 30, noJitter)).toBe(DEFAULT_BACKOFF.maxMs);
  });

  it("stays finite for huge attempt counts and a zero base", () => {
    expect(backoffDelay({ baseMs: 0, maxMs: 1_000, jitter: 0 }, 5_000, noJitter)).toBe(0);
    expect(backoffDelay({ baseMs: 10, maxMs: 1_000, jitter: 0 }, 5_000, noJitter)).toBe(1_000);
  });

  it("jitter stays within [delay·(1−jitter), delay] for any random source (fast-check)", () => {
    const seed = 7_331;
    console.log(`jitter property seed: ${seed}`);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 86_400_000 }),
        fc.integer({ min: 0, max: 7 * 86_400_000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 0, max: 40 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (baseMs, maxMs, jitter, attempts, r) => {
          const exact = backoffDelay({ baseMs, maxMs, jitter: 0 }, attempts, noJitter);
          const d = backoffDelay({ baseMs, maxMs, jitter }, attempts, () => r);
          expect(Number.isInteger(d)).toBe(true);
          expect(d).toBeLessThanOrEqual(exact);
          expect(d).toBeGreaterThanOrEqual(exact * (1 - jitter));
        },
      ),
      { seed, numRuns: 2_000 },
    );
  });

  it("full jitter spreads delays across the range", () => {
    const b = { baseMs: 1_000, maxMs: 60_000, jitter: 1 };
    expect(backoffDelay(b, 1, () => 0)).toBe(2_000);
    expect(backoffDelay(b, 1, () => 0.5)).toBe(1_000);
    expect(backoffDelay(b, 1, () => 0.999_999)).toBe(1);
  });
});

describe("seededRandom", () => {
  it("replays the same sequence for a seed, differs across seeds, stays in [0, 1)", async () => {
    const { seededRandom } = await import("../src/index.js");
    const a = seededRandom(42);
    const b = seededRandom(42);
    const c = seededRandom(43);
    const xs = Array.from({ length: 1000 }, () => a());
    expect(Array.from({ length: 1000 }, () => b())).toEqual(xs);
    expect(Array.from({ length: 1000 }, () => c())).not.toEqual(xs);
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    // Roughly uniform: each tenth of [0, 1) gets 5–15 % of 1000 draws.
    for (let d = 0; d < 10; d++) {
      const n = xs.filter((x) => x >= d / 10 && x < (d + 1) / 10).length;
      expect(n).toBeGreaterThan(50);
      expect(n).toBeLessThan(150);
    }
  });

  it("is the generator of the tests (@pyrexis/test-utils): a seed printed by either replays in both", async () => {
    const { seededRandom } = await import("../src/index.js");
    const { seededRandom: testGenerator } = await import("@pyrexis/test-utils/random");
    for (const seed of [0, 42, 2 ** 31, 0xffffffff]) {
      const ours = seededRandom(seed);
      const tests = testGenerator(seed);
      expect(
        Array.from({ length: 100 }, () => tests()),
        `seed ${seed}`,
      ).toEqual(Array.from({ length: 100 }, () => ours()));
    }
  });
});
