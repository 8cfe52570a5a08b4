// The seeded generator of tests and benches: the same seed gives the same sequence, so a failing
// run is replayed from the seed it printed.

/** A source of numbers in [0, 1), like `Math.random`. */
export type Random = () => number;

/**
 * mulberry32: a small, fast 32-bit generator with a good spread, for test data, fault
 * schedules and bench inputs (never for secrets). The same sequence as `seededRandom` of
 * `@pyrexis/models`, so a seed means the same thing in a test and in a fixture using either.
 *
 * @param seed - any number; only its low 32 bits count.
 * @example
 * ```ts
 * const random = seededRandom(42);
 * random(); // 0.6011037519201636, every time
 * ```
 */
export function seededRandom(seed: number): Random {
  if (typeof seed !== "number" || !Number.isFinite(seed))
    throw new TypeError(`seededRandom: seed must be a finite number, got ${String(seed)}`);
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}
