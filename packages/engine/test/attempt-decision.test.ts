import { describe, expect, it } from "vitest";
import {
  CancelledError,
  createJob,
  InterruptedError,
  NonRetryableError,
  parseJobSpec,
  startAttempt,
  TimeoutError,
  type Job,
} from "@pyrexis/models";
import { decideAttempt, type AttemptEnd } from "../src/attempt-decision.js";

const NOW = 1_000_000;

function running(maxAttempts = 3, attempts = 1): Job {
  let job = createJob(parseJobSpec({ handler: "h", maxAttempts, backoff: { baseMs: 100, maxMs: 10_000 } }), NOW - 10);
  for (let i = 0; i < attempts; i++) job = startAttempt(i === 0 ? job : { ...job, status: "retrying" }, NOW - 5);
  return job;
}

function end(overrides: Partial<AttemptEnd>): AttemptEnd {
  return {
    job: running(),
    ok: true,
    value: "out",
    abortKind: undefined,
    abortReason: undefined,
    cancelRequested: false,
    now: NOW,
    random: () => 0,
    ...overrides,
  };
}

describe("decideAttempt", () => {
  it("completes with the output (undefined becomes null)", () => {
    const d = decideAttempt(end({ value: undefined }));
    expect(d).toMatchObject({ kind: "complete", output: null, job: { status: "completed", updatedAt: NOW } });
  });

  it("a non-JSON output fails the attempt with a ValidationError naming the path", () => {
    const d = decideAttempt(end({ value: { at: new Map() } }));
    expect(d.kind).toBe("retry");
    if (d.kind === "retry") expect(d.error.message).toMatch(/non-JSON output at at/);
  });

  it("a thrown error retries with backoff while attempts remain, then fails", () => {
    expect(decideAttempt(end({ ok: false, value: new Error("x") }))).toMatchObject({
      kind: "retry",
      delayMs: 200,
      job: { status: "retrying", runAt: NOW + 200 },
    });
    expect(decideAttempt(end({ job: running(3, 3), ok: false, value: new Error("x") }))).toMatchObject({
      kind: "fail",
      job: { status: "failed" },
    });
    expect(decideAttempt(end({ ok: false, value: new NonRetryableError("no") }))).toMatchObject({ kind: "fail" });
  });

  it("a cancel request wins over a timeout that aborted first; another writer wins over everything", () => {
    const timeout = new TimeoutError("j", 5);
    expect(
      decideAttempt(end({ ok: false, value: timeout, abortKind: "timeout", abortReason: timeout, cancelRequested: true })),
    ).toMatchObject({
      kind: "cancel",
      job: { status: "cancelled" },
    });
    expect(decideAttempt(end({ abortKind: "lost", abortReason: new InterruptedError("j"), cancelRequested: true }))).toEqual({
      kind: "lost",
    });
  });

  it("an aborted handler that returned anyway is not completed", () => {
    const reason = new CancelledError("j");
    expect(decideAttempt(end({ ok: true, value: "late", abortKind: "cancel", abortReason: reason, cancelRequested: true })).kind).toBe(
      "cancel",
    );
    const timeout = new TimeoutError("j", 5);
    expect(decideAttempt(end({ ok: true, value: "late", abortKind: "timeout", abortReason: timeout })).kind).toBe("retry");
  });

  it("a shutdown requeues the job with its attempt uncounted, due at once", () => {
    const d = decideAttempt(
      end({ job: running(3, 2), ok: false, value: new Error("aborted"), abortKind: "shutdown", abortReason: new InterruptedError("j") }),
    );
    expect(d).toMatchObject({ kind: "requeue", job: { status: "retrying", attempts: 1, runAt: NOW, lastError: { code: "INTERRUPTED" } } });
  });
});
