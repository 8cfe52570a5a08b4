// The README's example, kept here so it is compiled and run.
import { describe, expect, it } from "vitest";
import { ManualClock } from "@pyrexis/models";
import { PriorityScheduler, starvationBoundSeconds } from "../src/index.js";

describe("README example", () => {
  it("runs as documented", () => {
    const log: unknown[] = [];
    const console = { log: (...a: unknown[]) => log.push(a.length === 1 ? a[0] : a) };
    // --- README example start ---
    const clock = new ManualClock(Date.parse("2025-01-01T12:00:00Z"));
    const scheduler = new PriorityScheduler<{ id: string; priority: number; runAt?: number; url?: string }>({
      agingRate: 0.1, // the default: 1 priority point per 10 s of waiting
      clock, // omit for the real clock
    });

    scheduler.push({ id: "report", priority: 0 });
    scheduler.push({ id: "retry-1", priority: 8, runAt: clock.now() + 30_000 }); // backoff: not before +30 s
    clock.advance(99_000);
    scheduler.push({ id: "urgent-a", priority: 10 }); // ready 99 s after "report": overtakes it
    clock.advance(1_000);
    scheduler.push({ id: "urgent-b", priority: 10, url: "https://example.com" }); // 100 s after: does not

    console.log(scheduler.size, scheduler.readyCount, scheduler.nextRunAt()); // 4 4 undefined
    // Effective priority now = priority + 0.1 × seconds since ready:
    console.log(scheduler.pop()?.id); // "retry-1"  8 + 0.1 × 70 = 15
    console.log(scheduler.pop()?.id); // "urgent-a" 10 + 0.1 × 1 = 10.1
    console.log(scheduler.pop()?.id); // "report"   0 + 0.1 × 100 = 10: ties "urgent-b", was first
    console.log(scheduler.pop()?.url); // "https://example.com": the pushed object comes back
    console.log(starvationBoundSeconds(0, scheduler.agingRate)); // 100
    // --- README example end ---
    expect(log).toEqual([[4, 4, undefined], "retry-1", "urgent-a", "report", "https://example.com", 100]);
  });
});
