import { describe, expect, it } from "vitest";
import * as models from "../src/index.js";
import {
  CancelledError,
  LimitCapacityError,
  InvalidBatchOptionsError,
  BatchOutputMismatchError,
  UnknownLimitError,
  CorruptRecordError,
  createResult,
  deserializeError,
  DuplicateJobError,
  JobConflictError,
  NotRedrivableError,
  ErrorCode,
  ExecutorClosedError,
  HandlerNotFoundError,
  IllegalTransitionError,
  IncompatibleStoreError,
  InterruptedError,
  isNonRetryable,
  NON_RETRYABLE_CODES,
  nonRetryableCode,
  isPyrexisError,
  JobNotFoundError,
  NonRetryableError,
  PyrexisError,
  ResultExistsError,
  serializeError,
  ShuttingDownError,
  StaleVersionError,
  StoreClosedError,
  StoreFailureError,
  InvalidScheduleError,
  ScheduleConflictError,
  UnknownDependencyError,
  DependencyCycleError,
  DependencyFailedError,
  TimeoutError,
  UnknownModeError,
  ValidationError,
  WorkerCrashedError,
} from "../src/index.js";

const EXAMPLES: [string, PyrexisError, ErrorCode][] = [
  ["ValidationError", new ValidationError("bad", [{ path: ["a"], message: "m" }]), "VALIDATION"],
  ["IllegalTransitionError", new IllegalTransitionError("j", "failed", "running"), "ILLEGAL_TRANSITION"],
  ["DuplicateJobError", new DuplicateJobError("j"), "DUPLICATE_JOB"],
  ["JobConflictError", new JobConflictError("j", ["payload"]), "JOB_CONFLICT"],
  ["NotRedrivableError", new NotRedrivableError("j", "completed"), "NOT_REDRIVABLE"],
  ["JobNotFoundError", new JobNotFoundError("j"), "JOB_NOT_FOUND"],
  ["ResultExistsError", new ResultExistsError("j"), "RESULT_EXISTS"],
  ["StaleVersionError", new StaleVersionError("j", 1, 2), "STALE_VERSION"],
  ["StoreClosedError", new StoreClosedError(), "STORE_CLOSED"],
  ["CorruptRecordError", new CorruptRecordError("j", "bad json"), "CORRUPT_RECORD"],
  ["IncompatibleStoreError", new IncompatibleStoreError("schema v9"), "INCOMPATIBLE_STORE"],
  ["ShuttingDownError", new ShuttingDownError(), "SHUTTING_DOWN"],
  ["TimeoutError", new TimeoutError("j", 100), "TIMEOUT"],
  ["CancelledError", new CancelledError("j"), "CANCELLED"],
  ["InterruptedError", new InterruptedError("j"), "INTERRUPTED"],
  ["HandlerNotFoundError", new HandlerNotFoundError("x", ["a", "b"]), "HANDLER_NOT_FOUND"],
  ["WorkerCrashedError", new WorkerCrashedError("j", "exit 1"), "WORKER_CRASHED"],
  ["NonRetryableError", new NonRetryableError("no"), "NON_RETRYABLE"],
  ["ExecutorClosedError", new ExecutorClosedError(), "EXECUTOR_CLOSED"],
  ["UnknownModeError", new UnknownModeError("gpu", ["async"]), "UNKNOWN_MODE"],
  ["StoreFailureError", new StoreFailureError("disk full"), "STORE_FAILURE"],
  ["InvalidScheduleError", new InvalidScheduleError("cron", "61 * * * *", "minute out of range"), "INVALID_SCHEDULE"],
  ["ScheduleConflictError", new ScheduleConflictError("nightly", ["cron"]), "SCHEDULE_CONFLICT"],
  ["UnknownDependencyError", new UnknownDependencyError("child", "parent"), "UNKNOWN_DEPENDENCY"],
  ["DependencyCycleError", new DependencyCycleError(["a", "b"]), "DEPENDENCY_CYCLE"],
  ["DependencyFailedError", new DependencyFailedError("child", "parent", "failed"), "DEPENDENCY_FAILED"],
  ["UnknownLimitError", new UnknownLimitError("openia", ["openai"]), "UNKNOWN_LIMIT"],
  ["LimitCapacityError", new LimitCapacityError("openai", 100_000, 90_000), "LIMIT_CAPACITY"],
  [
    "InvalidBatchOptionsError",
    new InvalidBatchOptionsError("embed", [{ path: ["batch", "maxSize"], message: "m" }]),
    "INVALID_BATCH_OPTIONS",
  ],
  ["BatchOutputMismatchError", new BatchOutputMismatchError("embed", 3, 2), "BATCH_OUTPUT_MISMATCH"],
];

/** Codes of error classes defined in other packages (which depend on this one, so it cannot import them). */
const CODES_OF_OTHER_PACKAGES: Record<string, ErrorCode> = {
  UsageError: "USAGE", // @pyrexis/cli, a ValidationError
  StoreMissingError: "STORE_MISSING", // @pyrexis/cli, a StoreFailureError
  HandlersLoadError: "HANDLERS_LOAD_FAILED", // @pyrexis/executors, a NonRetryableError
};

describe("error classes", () => {
  it("every code has exactly one class", () => {
    const codes = [...EXAMPLES.map((e) => e[2]), ...Object.values(CODES_OF_OTHER_PACKAGES)];
    expect(codes.sort()).toEqual(Object.values(ErrorCode).sort());
  });

  it("every exported error class is in the table, each with a code no other class has", () => {
    const exported = Object.entries(models)
      .filter(([, value]) => typeof value === "function" && value.prototype instanceof PyrexisError)
      .map(([name]) => name)
      .sort();
    expect(EXAMPLES.map((e) => e[0]).sort()).toEqual(exported);
    const codes = EXAMPLES.map((e) => e[1].code);
    expect(new Set(codes).size).toBe(codes.length);
    for (const code of Object.values(CODES_OF_OTHER_PACKAGES)) expect(codes).not.toContain(code);
  });

  it("lists the codes by theme, each once, each its own name", () => {
    for (const [key, value] of Object.entries(ErrorCode)) expect(value).toBe(key);
    expect(new Set(Object.values(ErrorCode)).size).toBe(Object.keys(ErrorCode).length);
  });

  it.each(EXAMPLES)("%s carries its code, its name and is a PyrexisError", (name, error, code) => {
    expect(error.code).toBe(code);
    expect(error.name).toBe(name);
    expect(error).toBeInstanceOf(PyrexisError);
    expect(error).toBeInstanceOf(Error);
    expect(isPyrexisError(error)).toBe(true);
    expect(isPyrexisError(error, code)).toBe(true);
    expect(isPyrexisError(error, code === "TIMEOUT" ? "CANCELLED" : "TIMEOUT")).toBe(false);
    expect(typeof error.stack).toBe("string");
  });

  it("carry the details callers branch on", () => {
    expect(new StaleVersionError("j", 1, undefined).message).toMatch(/does not exist/);
    expect(new StaleVersionError("j", 1, 3)).toMatchObject({ expectedVersion: 1, actualVersion: 3 });
    expect(new HandlerNotFoundError("x", []).message).toContain("(none)");
    expect(new HandlerNotFoundError("x", ["a"])).toMatchObject({ handler: "x", known: ["a"] });
    expect(new HandlerNotFoundError("x", ["a"]).message).toBe('no handler named "x"; known handlers: a');
    // Found missing while a job ran: the message says where and that the attempt is not retried.
    expect(new HandlerNotFoundError("x", ["a", "b"], { where: "worker thread 3" }).message).toBe(
      'no handler named "x" is registered in worker thread 3 (known handlers: a, b); not retried: every attempt would fail the same way',
    );
    expect(new TimeoutError("j", 5)).toMatchObject({ jobId: "j", timeoutMs: 5 });
    expect(new UnknownModeError("gpu", ["async"]).mode).toBe("gpu");
  });

  it("keep the ES2022 cause when given, and have none otherwise", () => {
    const root = new Error("disk");
    expect(new StoreFailureError("write failed", { cause: root }).cause).toBe(root);
    expect("cause" in new StoreFailureError("x")).toBe(false);
  });

  it("isPyrexisError rejects plain errors, unknown codes and non-objects", () => {
    expect(isPyrexisError(new Error("x"))).toBe(false);
    expect(isPyrexisError(Object.assign(new Error("x"), { code: "ENOENT" }))).toBe(false);
    expect(isPyrexisError({ code: "TIMEOUT", name: "Thing" })).toBe(false);
    expect(isPyrexisError("TIMEOUT")).toBe(false);
    expect(isPyrexisError(null)).toBe(false);
    expect(isPyrexisError(undefined)).toBe(false);
  });

  it("isPyrexisError recognizes an error from another copy of the package by name and code", () => {
    const foreign = Object.assign(new Error("t"), { name: "TimeoutError", code: "TIMEOUT" });
    expect(isPyrexisError(foreign, "TIMEOUT")).toBe(true);
  });

  it("isNonRetryable", () => {
    expect(isNonRetryable(new NonRetryableError("x"))).toBe(true);
    expect(isNonRetryable(deserializeError(serializeError(new NonRetryableError("x"))))).toBe(true);
    expect(isNonRetryable({ nonRetryable: true })).toBe(true);
    expect(isNonRetryable(new TimeoutError("j", 1))).toBe(false);
    // Wrapped (e.g. by a pipeline stage error): the cause decides.
    expect(isNonRetryable(new Error("stage failed", { cause: new NonRetryableError("bad input") }))).toBe(true);
    expect(isNonRetryable(new Error("stage failed", { cause: new Error("transient") }))).toBe(false);
    const loop: Error & { cause?: unknown } = new Error("self-caused");
    loop.cause = loop;
    expect(isNonRetryable(loop)).toBe(false);
    expect(isNonRetryable(null)).toBe(false);
    expect(isNonRetryable(undefined)).toBe(false);
  });

  it("isNonRetryable knows the codes that are non-retryable by nature, also after a boundary", () => {
    expect([...NON_RETRYABLE_CODES].sort()).toEqual(["HANDLERS_LOAD_FAILED", "HANDLER_NOT_FOUND", "LIMIT_CAPACITY", "NON_RETRYABLE"]);
    const notFound = new HandlerNotFoundError("x", ["a"]);
    expect(isNonRetryable(notFound)).toBe(true);
    expect(isNonRetryable(deserializeError(serializeError(notFound)))).toBe(true);
    // A class defined elsewhere (HandlersLoadError) is recognized by its code and name alone.
    expect(isNonRetryable(Object.assign(new Error("x"), { name: "HandlersLoadError", code: "HANDLERS_LOAD_FAILED" }))).toBe(true);
    for (const [name, error, code] of EXAMPLES) expect(isNonRetryable(error), name).toBe(NON_RETRYABLE_CODES.has(code));
  });

  it("nonRetryableCode names why: the deciding error's own code, or NON_RETRYABLE for a marked one", () => {
    expect(nonRetryableCode(new HandlerNotFoundError("x", []))).toBe("HANDLER_NOT_FOUND");
    expect(nonRetryableCode(new NonRetryableError("no"))).toBe("NON_RETRYABLE");
    expect(nonRetryableCode({ nonRetryable: true, code: "E_OWN" })).toBe("NON_RETRYABLE");
    expect(nonRetryableCode(new Error("stage failed", { cause: new HandlerNotFoundError("x", []) }))).toBe("HANDLER_NOT_FOUND");
    expect(nonRetryableCode(new Error("stage failed", { cause: new NonRetryableError("bad") }))).toBe("NON_RETRYABLE");
    expect(nonRetryableCode(new TimeoutError("j", 1))).toBeUndefined();
    expect(nonRetryableCode("plain string")).toBeUndefined();
  });
});

describe("serializeError / deserializeError", () => {
  it("serializes an Error with name, message and stack", () => {
    const e = new TypeError("nope");
    expect(serializeError(e)).toEqual({ name: "TypeError", message: "nope", stack: e.stack });
  });

  it.each(EXAMPLES)("keeps the code of %s", (_name, error, code) => {
    const s = serializeError(error);
    expect(s).toMatchObject({ name: error.name, message: error.message, code });
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
  });

  it("keeps string and numeric codes of other errors", () => {
    expect(serializeError(Object.assign(new Error("x"), { code: "ENOENT" })).code).toBe("ENOENT");
    expect(serializeError(Object.assign(new Error("x"), { code: 42 })).code).toBe("42");
    expect(serializeError(Object.assign(new Error("x"), { code: { nested: 1 } })).code).toBeUndefined();
  });

  it.each([
    ["a thrown string", "it broke", "it broke"],
    ["undefined", undefined, "undefined was thrown"],
    ["null", null, "null"],
    ["a number", 42, "42"],
    ["a plain object", { reason: "quota" }, '{"reason":"quota"}'],
    ["a BigInt", 10n, "10"],
    ["a symbol", Symbol("s"), "Symbol(s)"],
  ])("serializes %s as a NonError", (_label, thrown, message) => {
    expect(serializeError(thrown)).toEqual({ name: "NonError", message });
  });

  it("serializes objects with circular references without throwing", () => {
    const o: Record<string, unknown> = { a: 1 };
    o.self = o;
    expect(serializeError(o)).toEqual({ name: "NonError", message: "[object Object]" });
    const bare = Object.create(null) as Record<string, unknown>;
    bare.self = bare;
    expect(serializeError(bare)).toEqual({ name: "NonError", message: "[object Object]" });
  });

  it("serializes error-like objects (name + message) as errors", () => {
    expect(serializeError({ name: "AbortError", message: "aborted", code: "ABORT_ERR" })).toEqual({
      name: "AbortError",
      message: "aborted",
      code: "ABORT_ERR",
    });
  });

  it("deserializeError keeps name, message, code and stack and is recognized as a Pyrexis error", () => {
    const original = new DuplicateJobError("j-9");
    const back = deserializeError(JSON.parse(JSON.stringify(serializeError(original))));
    expect(back).toBeInstanceOf(Error);
    expect(back).toMatchObject({ name: "DuplicateJobError", message: original.message, code: "DUPLICATE_JOB", stack: original.stack });
    expect(isPyrexisError(back)).toBe(true);
    expect(isPyrexisError(back, "DUPLICATE_JOB")).toBe(true);
    expect(isPyrexisError(back, "TIMEOUT")).toBe(false);
  });

  it("a deserialized non-Pyrexis error is not a Pyrexis error", () => {
    const back = deserializeError({ name: "NonError", message: "x" });
    expect(back.code).toBeUndefined();
    expect(isPyrexisError(back)).toBe(false);
  });
});

describe("createResult", () => {
  const base = { jobId: "j", status: "failed" as const, error: { name: "E", message: "m" }, startedAt: 1_000, endedAt: 1_250, attempts: 2 };

  it("derives durationMs and is frozen, error included", () => {
    const r = createResult(base);
    expect(r.durationMs).toBe(250);
    expect(Object.isFrozen(r)).toBe(true);
    expect(Object.isFrozen(r.error)).toBe(true);
  });

  it("mutation throws in strict mode (ES modules are strict)", () => {
    const r = createResult(base) as { durationMs: number; error: { message: string } };
    expect(() => {
      r.durationMs = 5;
    }).toThrow(TypeError);
    expect(() => {
      r.error.message = "changed";
    }).toThrow(TypeError);
    expect(r.durationMs).toBe(250);
  });

  it("never reports a negative duration (clock skew)", () => {
    expect(createResult({ ...base, startedAt: 2_000, endedAt: 1_000 }).durationMs).toBe(0);
  });

  it("does not freeze or alias the caller's input object", () => {
    const input = { ...base };
    const r = createResult(input);
    expect(Object.isFrozen(input)).toBe(false);
    expect(r).not.toBe(input);
  });
});
