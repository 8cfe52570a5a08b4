// Handlers of the benchmark (loaded by every mode).
export default {
  noop: () => null,
  /** @param {{ seed: number, iterations: number }} payload */
  cpu: (payload) => {
    let x = payload.seed | 0 || 1;
    let sum = 0;
    for (let i = 0; i < payload.iterations; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      sum = (sum + (x >>> 0)) % 1_000_000_007;
    }
    return sum;
  },
};
