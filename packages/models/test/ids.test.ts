import { afterEach, describe, expect, it, vi } from "vitest";
import { generateJobId } from "../src/index.js";

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("generateJobId", () => {
  const ids = Array.from({ length: 100_000 }, () => generateJobId());

  it("is a UUIDv7", () => {
    for (const id of ids.slice(0, 1_000)) expect(id).toMatch(UUID_V7);
    expect(ids.every((id) => UUID_V7.test(id))).toBe(true);
  });

  it("is unique over 100k ids", () => {
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("sorts lexicographically in generation order (even within one millisecond)", () => {
    for (let i = 1; i < ids.length; i++) {
      if (!(ids[i - 1]! < ids[i]!)) throw new Error(`id ${i} (${ids[i]}) does not sort after ${ids[i - 1]}`);
    }
  });

  it("embeds the creation time in its first 48 bits", () => {
    const before = Date.now();
    const id = generateJobId();
    const ms = Number.parseInt(id.replace(/-/g, "").slice(0, 12), 16);
    expect(ms).toBeGreaterThanOrEqual(before);
    // Ids stay monotonic by borrowing from the next millisecond under huge bursts; allow a little.
    expect(ms).toBeLessThanOrEqual(Date.now() + 1_000);
  });
});

describe("generateJobId with a clock that stands still or steps back", () => {
  afterEach(() => vi.restoreAllMocks());
  const timeOf = (id: string): number => Number.parseInt(id.replace(/-/g, "").slice(0, 12), 16);

  it("keeps counting within one millisecond: 50k ids at one instant stay unique and ordered", () => {
    const at = Date.now() + 10_000;
    vi.spyOn(Date, "now").mockReturnValue(at);
    const burst = Array.from({ length: 50_000 }, () => generateJobId());
    expect(new Set(burst).size).toBe(burst.length);
    for (let i = 1; i < burst.length; i++) expect(burst[i - 1]! < burst[i]!).toBe(true);
    expect(burst.every((id) => UUID_V7.test(id) && timeOf(id) === at)).toBe(true);
  });

  it("never goes backwards when the clock does", () => {
    const at = Date.now() + 20_000;
    const now = vi.spyOn(Date, "now").mockReturnValue(at);
    const before = generateJobId();
    now.mockReturnValue(at - 5_000);
    const after = generateJobId();
    expect(after > before).toBe(true);
    expect(timeOf(after)).toBe(at);
  });

  it("keeps order with a clock that returns fractions of a millisecond", () => {
    const at = Date.now() + 30_000;
    const now = vi.spyOn(Date, "now");
    const ids: string[] = [];
    // Many reads inside one encoded millisecond, each a little later: the counter must keep
    // counting instead of restarting at a random value for every fraction.
    for (let i = 0; i < 2_000; i++) {
      now.mockReturnValue(at + i / 2_000);
      ids.push(generateJobId());
    }
    for (let i = 1; i < ids.length; i++) expect(ids[i - 1]! < ids[i]!).toBe(true);
    expect(ids.every((id) => UUID_V7.test(id) && timeOf(id) === at)).toBe(true);
  });
});
