// Throughput is the change of the finished counts between samples, per second of the clock.
import { describe, expect, it } from "vitest";
import { MemoryJobStore } from "@pyrexis/storage";
import { CountSampler } from "../src/sampler.js";
import { insertFailed } from "./helpers.js";

describe("CountSampler", () => {
  it("derives jobs finished per second from two samples, and keeps at most its capacity", async () => {
    const store = new MemoryJobStore();
    let now = 1_000_000;
    const errors: unknown[] = [];
    const sampler = new CountSampler(store, { intervalMs: 1000, capacity: 3, now: () => now, onError: (e) => errors.push(e) });
    await sampler.sample();
    await insertFailed(store, 6);
    now += 2000;
    await sampler.sample();
    expect(sampler.samples().map((s) => s.throughput)).toEqual([0, 3]);
    now += 1000;
    await sampler.sample();
    now += 1000;
    await sampler.sample();
    expect(sampler.samples()).toHaveLength(3);
    expect(sampler.samples().at(-1)).toMatchObject({ throughput: 0, counts: { failed: 6 } });
    await store.close();
    await sampler.sample();
    expect(errors).toHaveLength(1);
    expect(sampler.samples()).toHaveLength(3);
  });
});
