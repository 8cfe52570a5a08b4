import { describe, expect, it } from "vitest";
import { batch, filter, map, pipeline, stage, tap } from "../src/index.js";

// vitest.config.ts runs test files with --expose-gc.
const gc = (globalThis as { gc?: () => void }).gc;

interface Record_ {
  id: number;
  text: string;
  features: number[];
}

function heapAfterGc(): number {
  gc!();
  gc!();
  return process.memoryUsage().heapUsed;
}

const LIMIT = 16 * 1024 * 1024;

describe("memory", () => {
  it("has gc exposed (the heap assertions below rely on it)", () => {
    expect(typeof gc).toBe("function");
  });

  it("streams 1,000,000 items through map, filter, batch and a concurrent map with flat heap", async () => {
    const N = 1_000_000;
    const samples: number[] = [];
    const h = pipeline(
      stage("load", function* load(n: number) {
        for (let i = 0; i < n; i++) yield i;
      }),
      map((i: number): Record_ => ({ id: i, text: `item-${i}`, features: [i, i + 1, i + 2] })),
      filter((r: Record_) => r.id % 3 !== 0),
      batch<Record_>(100),
      map(async (rows: Record_[]) => rows.length, { concurrency: 4 }),
      tap((_n: number, i: number) => {
        if (i % 2_000 === 0) samples.push(heapAfterGc());
      }),
      async function count(sizes: AsyncIterable<number>) {
        let total = 0;
        for await (const s of sizes) total += s;
        return total;
      },
    );
    const before = heapAfterGc();
    const total = await h(N);
    expect(total).toBe(N - Math.ceil(N / 3));
    expect(samples.length).toBeGreaterThanOrEqual(3);
    const growth = Math.max(...samples) - before;
    console.log(`heap growth while streaming ${N} items: ${(growth / 1024 / 1024).toFixed(1)} MB`);
    expect(growth).toBeLessThan(LIMIT);
  }, 60_000);

  it("control: keeping 200,000 of those records does exceed the limit (the measurement is sensitive)", () => {
    const before = heapAfterGc();
    const kept: Record_[] = [];
    for (let i = 0; i < 200_000; i++) kept.push({ id: i, text: `item-${i}`, features: [i, i + 1, i + 2] });
    const growth = heapAfterGc() - before;
    expect(kept).toHaveLength(200_000);
    expect(growth).toBeGreaterThan(LIMIT);
  });
});
