import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { JobSpecSchema, parseJobSpec } from "../src/index.js";
import { fastJobSpec } from "../src/spec-fast-path.js";

// Values that are valid for some fields and invalid for others, so every branch is hit.
const anyValue = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.integer({ min: -3, max: 12 }),
  fc.constantFrom(0.5, -0, Number.NaN, Number.POSITIVE_INFINITY, 2_147_483_647, 2_147_483_648, 1000, 1001, Number.MAX_SAFE_INTEGER + 2),
  fc.string({ maxLength: 8 }),
  fc.constantFrom("", "a\u0001b", "x".repeat(64), "x".repeat(65), "y".repeat(256), "y".repeat(257), "thread"),
  fc.boolean(),
  fc.constant(Date.now()),
  fc.constantFrom({ baseMs: 10 }, [1, { a: "b" }], { nested: { ok: true } }, { bad: Number.NaN }, new Date(0), new Map(), () => 1),
);

/** Mostly `valid`, sometimes anything: most specs are valid, and every field gets to be wrong. */
const mostly = <T>(valid: fc.Arbitrary<T>): fc.Arbitrary<unknown> =>
  fc.oneof({ weight: 6, arbitrary: valid }, { weight: 1, arbitrary: anyValue });

const specLike = fc
  .tuple(
    fc.record(
      {
        id: mostly(fc.string({ minLength: 1, maxLength: 12 })),
        handler: mostly(fc.constantFrom("embed", "resize")),
        payload: mostly(fc.jsonValue({ maxDepth: 2 })),
        priority: mostly(fc.integer({ min: 0, max: 10 })),
        mode: mostly(fc.constantFrom("async", "thread")),
        maxAttempts: mostly(fc.integer({ min: 1, max: 1000 })),
        backoff: mostly(fc.constant(undefined)),
        timeoutMs: mostly(fc.integer({ min: 1, max: 60_000 })),
        runAt: mostly(fc.constant(undefined)),
        delayMs: mostly(fc.integer({ min: 0, max: 60_000 })),
        limits: mostly(
          fc.array(
            fc.record(
              { key: mostly(fc.constantFrom("openai", "gpu", "a\u0001b", "")), units: mostly(fc.integer({ min: 0, max: 2_000 })) },
              { requiredKeys: ["key"] },
            ),
            { maxLength: 3 },
          ),
        ),
        group: mostly(fc.constantFrom("tenant-a", "b")),
      },
      { requiredKeys: [] },
    ),
    fc.integer({ min: 0, max: 9 }),
    anyValue,
  )
  // An unknown key now and then.
  .map(([spec, roll, extra]) => (roll === 0 ? { ...spec, extra } : spec));

describe("the job spec fast path", () => {
  it("accepts only what the schema accepts, and returns exactly the schema's output (keys and order too)", () => {
    let accepted = 0;
    fc.assert(
      fc.property(specLike, (input) => {
        const fast = fastJobSpec(input);
        if (fast === undefined) return;
        accepted++;
        const parsed = JobSpecSchema.safeParse(input);
        expect(parsed.success).toBe(true);
        expect(fast).toStrictEqual(parsed.data);
        expect(Object.keys(fast)).toEqual(Object.keys(parsed.data as object));
      }),
      { numRuns: 20_000, seed: 20261126 },
    );
    // The generator must actually reach the fast path, or this test proves nothing.
    expect(accepted).toBeGreaterThan(100);
  });

  it("takes the common shapes", () => {
    expect(fastJobSpec({ handler: "embed", payload: { text: "hi" } })).toBeDefined();
    const flow = { handler: "chat", limits: [{ key: "openai", units: 1200 }, { key: "gpu" }], group: "tenant-a" };
    expect(fastJobSpec(flow)).toStrictEqual(parseJobSpec(flow));
    expect(fastJobSpec({ handler: "chat", limits: [{ key: "openai" }, { key: "openai" }] })).toBeUndefined();
    expect(
      fastJobSpec({ id: "j1", handler: "embed", priority: 9, mode: "thread", maxAttempts: 5, timeoutMs: 1000, delayMs: 0 }),
    ).toBeDefined();
    expect(fastJobSpec(Object.assign(Object.create(null) as object, { handler: "embed" }))).toBeDefined();
  });

  it("leaves everything else to the schema, which words the error", () => {
    for (const input of [
      null,
      [],
      new (class Spec {
        handler = "x";
      })(),
      { handler: "x", backoff: { baseMs: 1 } },
      { handler: "x", runAt: 5 },
    ]) {
      expect(fastJobSpec(input)).toBeUndefined();
    }
    expect(() => parseJobSpec({ handler: "x", priority: 11 }, "job spec #3")).toThrow(/invalid job spec #3: priority/);
    expect(() => parseJobSpec({ handler: "x", payload: { n: Number.NaN } })).toThrow(/payload\.n/);
    expect(() => parseJobSpec({ handler: "x", colour: "red" })).toThrow(/colour: unknown key/);
  });
});
