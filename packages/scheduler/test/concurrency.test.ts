import { describe, expect, it } from "vitest";
import { ManualClock } from "@pyrexis/models";
import { PriorityScheduler } from "../src/index.js";

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe("concurrent async producers and consumers", () => {
  it("500 producers and 8 consumers: nothing lost, nothing popped twice", async () => {
    const clock = new ManualClock(1_700_000_000_000);
    const s = new PriorityScheduler<{ id: string; priority: number; runAt?: number; producer: number }>({ clock });
    const PRODUCERS = 500;
    const PER = 20;
    let producing = PRODUCERS;
    const popped: string[] = [];
    const removed = new Set<string>();

    const producer = async (p: number): Promise<void> => {
      for (let i = 0; i < PER; i++) {
        // Some entries are delayed a little; some producers also cancel one of their own.
        const runAt = i % 7 === 3 ? clock.now() + 50 : undefined;
        s.push({ id: `p${p}-${i}`, priority: (p * 31 + i * 7) % 11, runAt, producer: p });
        if (i % 10 === 9 && s.remove(`p${p}-${i - 1}`)) removed.add(`p${p}-${i - 1}`);
        if (i % 3 === 0) await tick();
        else await Promise.resolve();
      }
      producing--;
    };
    const consumer = async (): Promise<void> => {
      for (;;) {
        const e = s.pop();
        if (e !== undefined) popped.push(e.id);
        else if (producing === 0 && s.size === 0) return;
        else clock.advance(10); // lets delayed entries come due
        await tick();
      }
    };

    await Promise.all([...Array.from({ length: PRODUCERS }, (_, p) => producer(p)), ...Array.from({ length: 8 }, () => consumer())]);
    expect(removed.size).toBeGreaterThan(0);
    expect(popped).toHaveLength(PRODUCERS * PER - removed.size);
    const seen = new Set(popped);
    expect(seen.size).toBe(popped.length); // none twice
    for (const id of removed) expect(seen.has(id)).toBe(false); // a removed entry never pops
    for (let p = 0; p < PRODUCERS; p++) {
      for (let i = 0; i < PER; i++) expect(seen.has(`p${p}-${i}`) !== removed.has(`p${p}-${i}`)).toBe(true);
    }
    expect([s.size, s.readyCount]).toEqual([0, 0]);
  });
});
