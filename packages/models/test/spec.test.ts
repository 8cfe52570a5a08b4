import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  createJob,
  DEFAULT_BACKOFF,
  findJsonProblem,
  isJsonValue,
  MAX_ATTEMPT_ERRORS,
  recordFailure,
  transition,
  JsonValueSchema,
  parseJob,
  parseJobSpec,
  parseResult,
  ValidationError,
  type JsonValue,
} from "../src/index.js";
import { makeJob } from "./helpers.js";

/** Parses and returns the ValidationError (fails the test when parsing succeeds). */
function invalid(input: unknown): ValidationError {
  try {
    parseJobSpec(input);
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationError);
    return e as ValidationError;
  }
  throw new Error(`expected ${JSON.stringify(input)} to be rejected`);
}

const paths = (e: ValidationError): string[] => e.issues.map((i) => i.path.join("."));

describe("parseJobSpec defaults", () => {
  it("fills priority 5, mode async, maxAttempts 3, default backoff and payload null", () => {
    expect(parseJobSpec({ handler: "embed" })).toEqual({
      handler: "embed",
      payload: null,
      priority: 5,
      mode: "async",
      maxAttempts: 3,
      backoff: { baseMs: 1_000, maxMs: 300_000, jitter: 0 },
    });
  });

  it("fills missing backoff fields one by one, also when given as undefined", () => {
    expect(parseJobSpec({ handler: "h", backoff: { jitter: 0.2 } }).backoff).toEqual({ ...DEFAULT_BACKOFF, jitter: 0.2 });
    expect(parseJobSpec({ handler: "h", backoff: { baseMs: undefined, maxMs: 5 } }).backoff).toEqual({
      baseMs: 1_000,
      maxMs: 5,
      jitter: 0,
    });
  });

  it("keeps given values and normalizes runAt (number, Date, ISO string) to epoch ms", () => {
    const at = Date.UTC(2025, 0, 2, 3, 4, 5);
    expect(parseJobSpec({ handler: "h", runAt: at }).runAt).toBe(at);
    expect(parseJobSpec({ handler: "h", runAt: new Date(at) }).runAt).toBe(at);
    expect(parseJobSpec({ handler: "h", runAt: "2025-01-02T03:04:05Z" }).runAt).toBe(at);
    expect(parseJobSpec({ handler: "h", runAt: "2025-01-02T05:04:05+02:00" }).runAt).toBe(at);
    const spec = parseJobSpec({
      id: "a",
      handler: "h",
      payload: { x: 1 },
      priority: 10,
      mode: "thread",
      maxAttempts: 1,
      timeoutMs: 50,
      delayMs: 5,
    });
    expect(spec).toMatchObject({ id: "a", priority: 10, mode: "thread", maxAttempts: 1, timeoutMs: 50, delayMs: 5, payload: { x: 1 } });
  });

  it("a payload given as undefined means no payload (null)", () => {
    expect(parseJobSpec({ handler: "h", payload: undefined }).payload).toBeNull();
  });
});

describe("parseJobSpec rejects each invalid field, naming it", () => {
  it.each([
    ["priority 11", { priority: 11 }, "priority"],
    ["priority -1", { priority: -1 }, "priority"],
    ["priority 2.5", { priority: 2.5 }, "priority"],
    ["priority as string", { priority: "5" }, "priority"],
    ["maxAttempts 0", { maxAttempts: 0 }, "maxAttempts"],
    ["maxAttempts 1.5", { maxAttempts: 1.5 }, "maxAttempts"],
    ["empty handler", { handler: "" }, "handler"],
    ["empty mode", { mode: "" }, "mode"],
    ["empty id", { id: "" }, "id"],
    ["id with a newline", { id: "a\nb" }, "id"],
    ["timeoutMs 0", { timeoutMs: 0 }, "timeoutMs"],
    ["negative delayMs", { delayMs: -5 }, "delayMs"],
    ["backoff jitter 2", { backoff: { jitter: 2 } }, "backoff.jitter"],
    ["backoff unknown key", { backoff: { factor: 3 } }, "backoff.factor"],
    ["unknown key", { retries: 3 }, "retries"],
    ["runAt and delayMs together", { runAt: 5, delayMs: 5 }, "delayMs"],
    ["runAt invalid Date", { runAt: new Date("nope") }, "runAt"],
    ["runAt ISO without offset", { runAt: "2025-01-02T03:04:05" }, "runAt"],
    ["runAt garbage string", { runAt: "tomorrow" }, "runAt"],
    ["runAt negative", { runAt: -1 }, "runAt"],
  ])("%s", (_label, fields, path) => {
    const e = invalid({ handler: "h", ...fields });
    expect(e.code).toBe("VALIDATION");
    expect(paths(e)).toContain(path);
    expect(e.message).toContain(`invalid job spec: `);
    expect(e.message).toContain(`${path}: `);
  });

  it("names every unknown key separately", () => {
    const e = invalid({ handler: "h", foo: 1, bar: 2 });
    expect(paths(e).sort()).toEqual(["bar", "foo"]);
  });

  it("reports several problems at once", () => {
    const e = invalid({ handler: "", priority: 99, maxAttempts: 0 });
    expect(paths(e).sort()).toEqual(["handler", "maxAttempts", "priority"]);
  });

  it("rejects a non-object input and a missing handler", () => {
    expect(invalid(null).issues.length).toBeGreaterThan(0);
    expect(invalid("h").issues.length).toBeGreaterThan(0);
    expect(paths(invalid({}))).toContain("handler");
  });

  it("uses the caller's label in the message", () => {
    expect(() => parseJobSpec({}, "job spec #3")).toThrow(/^invalid job spec #3: /);
  });
});

class Point {
  constructor(public x: number) {}
}
const cyclic: Record<string, unknown> = { a: 1 };
cyclic.self = cyclic;
const cyclicArray: unknown[] = [1];
cyclicArray.push({ back: cyclicArray });

describe("non-JSON payloads", () => {
  it.each([
    ["function", () => 1, [], /function/],
    ["nested function", { a: { f: () => 1 } }, ["a", "f"], /function/],
    ["cycle", cyclic, ["self"], /circular/],
    ["cycle through an array", cyclicArray, [1, "back"], /circular/],
    ["BigInt", { n: 10n }, ["n"], /BigInt/],
    ["undefined nested in an object", { a: undefined }, ["a"], /undefined/],
    ["undefined nested in an array", [1, undefined], [1], /undefined/],
    // eslint-disable-next-line no-sparse-arrays -- the hole is the case under test
    ["sparse array hole", [1, , 3], [1], /undefined/],
    ["NaN", { n: Number.NaN }, ["n"], /NaN is not a JSON number/],
    ["Infinity", [Number.POSITIVE_INFINITY], [0], /Infinity is not a JSON number/],
    ["-Infinity", Number.NEGATIVE_INFINITY, [], /-Infinity/],
    ["Date", { when: new Date(0) }, ["when"], /Date is not a plain JSON object/],
    ["Map", { m: new Map() }, ["m"], /Map is not a plain JSON object/],
    ["class instance", { p: new Point(1) }, ["p"], /Point is not a plain JSON object/],
    ["symbol", { s: Symbol("s") }, ["s"], /symbol/],
  ])("%s is rejected with its path", (_label, payload, path, message) => {
    const e = invalid({ handler: "h", payload });
    expect(e.issues).toHaveLength(1);
    expect(e.issues[0]?.path).toEqual(["payload", ...path]);
    expect(e.issues[0]?.message).toMatch(message);
    expect(isJsonValue(payload)).toBe(false);
  });

  it("undefined at the top level is not a JSON value", () => {
    expect(findJsonProblem(undefined)).toEqual({ path: [], message: "undefined is not a JSON value" });
    expect(JsonValueSchema.safeParse(undefined).success).toBe(false);
  });

  it("shared (non-cyclic) references and null-prototype objects are fine", () => {
    const shared = { v: 1 };
    expect(findJsonProblem({ a: shared, b: [shared, shared] })).toBeUndefined();
    const bare = Object.assign(Object.create(null) as object, { k: "v" });
    expect(isJsonValue(bare)).toBe(true);
  });

  it("arbitrary JSON values are accepted and round-trip unchanged (fast-check)", () => {
    const seed = 424_242;
    console.log(`json payload property seed: ${seed}`);
    fc.assert(
      fc.property(fc.jsonValue(), (payload) => {
        const spec = parseJobSpec({ handler: "h", payload: payload as JsonValue });
        expect(spec.payload).toEqual(payload);
        // Compared as text: JSON itself turns -0 into 0, which is not a payload problem.
        const text = JSON.stringify(payload);
        expect(JSON.stringify(JSON.parse(JSON.stringify(spec.payload)))).toBe(text);
        expect(parseJobSpec(JSON.parse(JSON.stringify({ handler: "h", payload }))).payload).toEqual(JSON.parse(text));
        expect(isJsonValue(payload)).toBe(true);
      }),
      { seed, numRuns: 500 },
    );
  });
});

describe("createJob / parseJob / parseResult", () => {
  it("builds a pending record, runAt from delayMs or runAt", () => {
    const job = makeJob({ delayMs: 250 }, 10_000);
    expect(job).toMatchObject({ status: "pending", attempts: 0, version: 0, createdAt: 10_000, updatedAt: 10_000, runAt: 10_250 });
    expect(makeJob({ runAt: 50 }, 10_000).runAt).toBe(50);
    expect(makeJob({}, 10_000).runAt).toBe(10_000);
    expect(makeJob({ timeoutMs: 9 }).timeoutMs).toBe(9);
    expect("timeoutMs" in makeJob()).toBe(false);
  });

  it("generates an id when the spec has none", () => {
    const a = createJob(parseJobSpec({ handler: "h" }), 0);
    const b = createJob(parseJobSpec({ handler: "h" }), 0);
    expect(a.id).not.toBe(b.id);
  });

  it("a created job passes parseJob; a corrupt one fails naming the field", () => {
    const job = makeJob();
    expect(parseJob(JSON.parse(JSON.stringify(job)))).toEqual(job);
    let err: unknown;
    try {
      parseJob({ ...job, status: "exploded", extra: 1 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    expect(paths(err as ValidationError).sort()).toEqual(["extra", "status"]);
  });

  it("parseResult validates results", () => {
    const r = { jobId: "j", status: "completed", output: [1], startedAt: 1, endedAt: 2, durationMs: 1, attempts: 1 };
    expect(parseResult(r)).toEqual(r);
    expect(() => parseResult({ ...r, status: "running" })).toThrow(ValidationError);
    expect(() => parseResult({ ...r, output: { f: () => 1 } })).toThrow(/output\.f: a function/);
  });
});

describe("dependsOn", () => {
  it("a spec with parents makes a waiting job that lists them; an empty list means none", () => {
    const spec = parseJobSpec({ id: "c", handler: "h", dependsOn: ["a", "b"] });
    expect(spec.dependsOn).toEqual(["a", "b"]);
    const job = createJob(spec, 1000);
    expect(job).toMatchObject({ status: "waiting", dependsOn: ["a", "b"], attempts: 0, version: 0 });
    expect(parseJob(job)).toEqual(job);
    const none = parseJobSpec({ handler: "h", dependsOn: [] });
    expect("dependsOn" in none && none.dependsOn !== undefined).toBe(false);
    expect(createJob(none, 1000).status).toBe("pending");
  });

  it("rejects a repeated parent, the job's own id, bad ids and more than MAX_DEPENDENCIES, naming the field", () => {
    expect(invalid({ handler: "h", dependsOn: ["a", "a"] }).message).toMatch(/dependsOn.*twice/);
    expect(invalid({ id: "me", handler: "h", dependsOn: ["me"] }).message).toMatch(/dependsOn.*itself/);
    expect(invalid({ handler: "h", dependsOn: [""] }).message).toMatch(/dependsOn/);
    expect(invalid({ handler: "h", dependsOn: "a" }).message).toMatch(/dependsOn/);
    expect(invalid({ handler: "h", dependsOn: Array.from({ length: 10_001 }, (_, i) => `p${i}`) }).message).toMatch(/dependsOn.*at most/);
  });
});

describe("attemptErrors: the history of failed attempts", () => {
  it("each failed attempt appends its error (attempt, time); the last one is also lastError; at most MAX_ATTEMPT_ERRORS kept", () => {
    let job = {
      ...createJob(parseJobSpec({ handler: "h", maxAttempts: 30, backoff: { baseMs: 1 } }), 1000),
      status: "running" as const,
      attempts: 1,
    };
    const seen: number[] = [];
    for (let attempt = 1; attempt <= 14; attempt++) {
      const outcome = recordFailure({ ...job, attempts: attempt, status: "running" }, new Error(`failure ${attempt}`), 1000 + attempt);
      job = { ...outcome.job, status: "running", attempts: attempt };
      seen.push(attempt);
      const history = outcome.job.attemptErrors!;
      expect(history.length).toBe(Math.min(attempt, MAX_ATTEMPT_ERRORS));
      expect(history.at(-1)).toEqual({ attempt, at: 1000 + attempt, error: outcome.job.lastError });
      expect(history.map((e) => e.attempt)).toEqual(seen.slice(-MAX_ATTEMPT_ERRORS));
      expect(parseJob(outcome.job)).toEqual(outcome.job);
    }
  });

  it("a later transition keeps the history", () => {
    const failed = recordFailure({ ...makeJob(), status: "running", attempts: 1 }, new Error("x"), 5).job;
    expect(transition(failed, "running", 6).attemptErrors).toEqual(failed.attemptErrors);
  });
});

describe("flow control fields: limits and group", () => {
  it("fills a limit's weight with 1 unit, keeps the order, and createJob carries limits and group", () => {
    const spec = parseJobSpec({ handler: "chat", limits: [{ key: "openai", units: 1200 }, { key: "tenant-a" }], group: "tenant-a" });
    expect(spec.limits).toEqual([
      { key: "openai", units: 1200 },
      { key: "tenant-a", units: 1 },
    ]);
    const job = createJob(spec, 1000);
    expect(job).toMatchObject({ limits: spec.limits, group: "tenant-a" });
    expect(parseJob(job)).toEqual(job);
  });

  it("a job without them has neither key", () => {
    const job = createJob(parseJobSpec({ handler: "chat" }), 1000);
    expect("limits" in job || "group" in job).toBe(false);
  });

  it.each([
    [{ limits: [{ key: "openai", units: 0 }] }, "limits.0.units"],
    [{ limits: [{ key: "openai", units: -5 }] }, "limits.0.units"],
    [{ limits: [{ key: "openai", units: 1.5 }] }, "limits.0.units"],
    [{ limits: [{ key: "", units: 1 }] }, "limits.0.key"],
    [{ limits: [{ key: "openai", weight: 3 }] }, "limits.0.weight"],
    [{ limits: [] }, "limits"],
    [{ limits: [{ key: "openai" }, { key: "openai" }] }, "limits"],
    [{ limits: "openai" }, "limits"],
    [{ group: "" }, "group"],
    [{ group: 7 }, "group"],
  ])("rejects %j, naming %s", (fields, path) => {
    expect(paths(invalid({ handler: "chat", ...fields }))).toContain(path);
  });
});
