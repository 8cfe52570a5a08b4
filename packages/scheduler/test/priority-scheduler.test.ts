import { describe, expect, it } from "vitest";
import { DuplicateJobError, ManualClock, ValidationError, isPyrexisError } from "@pyrexis/models";
import { DEFAULT_AGING_RATE, PriorityScheduler, agingKey, agingKeyMs, starvationBoundSeconds, type SchedulerEntry } from "../src/index.js";

const T0 = 1_700_000_000_000;

function setup(agingRate?: number): { clock: ManualClock; s: PriorityScheduler } {
  const clock = new ManualClock(T0);
  return { clock, s: new PriorityScheduler({ clock, agingRate }) };
}

function drain<T extends SchedulerEntry>(s: PriorityScheduler<T>): string[] {
  const out: string[] = [];
  for (let e = s.pop(); e !== undefined; e = s.pop()) out.push(e.id);
  return out;
}

describe("ordering", () => {
  it("pops higher priority first and FIFO within a priority when aging is off", () => {
    const { s } = setup(0);
    const input = [3, 7, 3, 10, 0, 7, 3].map((priority, i) => ({ id: `e${i}`, priority }));
    for (const e of input) s.push(e);
    expect(drain(s)).toEqual(["e3", "e1", "e5", "e0", "e2", "e6", "e4"]);
  });

  it("with aging off a low priority starves behind a steady stream of high ones", () => {
    const { clock, s } = setup(0);
    s.push({ id: "low", priority: 0 });
    for (let k = 0; k < 5_000; k++) {
      clock.advance(1_000);
      s.push({ id: `hi${k}`, priority: 1 });
      expect(s.pop()?.id).toBe(`hi${k}`);
    }
    expect(s.pop()?.id).toBe("low");
  });

  it("returns the same entry object that was pushed, extra fields included", () => {
    const { s } = setup();
    const entry = { id: "x", priority: 5, payload: { big: [1, 2, 3] } };
    const typed = new PriorityScheduler<typeof entry>();
    typed.push(entry);
    expect(typed.pop()).toBe(entry);
    s.push(entry);
    expect(s.peek()).toBe(entry);
    expect(s.pop()).toBe(entry);
  });

  it("an older lower priority overtakes a newer higher one once its aging covers the gap", () => {
    const { clock, s } = setup(); // 0.1 points/s: 1 point = 10 s
    s.push({ id: "p5", priority: 5 });
    clock.advance(9_999);
    s.push({ id: "p6-early", priority: 6 }); // ready 9.999 s later: still ahead of p5
    expect(s.peek()?.id).toBe("p6-early");
    s.pop();
    s.push({ id: "p6-tie", priority: 6, enqueuedAt: T0 + 10_000 }); // exactly 1 point later: a tie
    expect(s.pop()?.id).toBe("p5"); // FIFO on the exact tie
    expect(s.pop()?.id).toBe("p6-tie");
  });

  it("honours an explicit enqueuedAt in the past (recovered jobs keep their age)", () => {
    const { s } = setup();
    s.push({ id: "fresh", priority: 9 });
    s.push({ id: "old", priority: 5, enqueuedAt: T0 - 41_000 }); // 4.1 points of age
    expect(drain(s)).toEqual(["old", "fresh"]);
  });

  it("pop and peek on an empty scheduler return undefined", () => {
    const { s } = setup();
    expect(s.pop()).toBeUndefined();
    expect(s.peek()).toBeUndefined();
    expect(s.size).toBe(0);
    expect(s.readyCount).toBe(0);
    expect(s.nextRunAt()).toBeUndefined();
  });
});

describe("delayed entries", () => {
  it("never pop before runAt, then pop in runAt order", () => {
    const { clock, s } = setup(0);
    s.push({ id: "c", priority: 10, runAt: T0 + 3_000 });
    s.push({ id: "a", priority: 1, runAt: T0 + 1_000 });
    s.push({ id: "b", priority: 5, runAt: T0 + 2_000 });
    expect(s.size).toBe(3);
    expect(s.readyCount).toBe(0);
    expect(s.pop()).toBeUndefined();
    expect(s.nextRunAt()).toBe(T0 + 1_000);
    clock.advance(999);
    expect(s.pop()).toBeUndefined();
    clock.advance(1);
    expect(s.nextRunAt()).toBe(T0 + 2_000);
    expect(s.readyCount).toBe(1);
    expect(s.pop()?.id).toBe("a");
    clock.advance(5_000);
    expect(s.nextRunAt()).toBeUndefined();
    expect(drain(s)).toEqual(["c", "b"]);
  });

  it("a runAt at or before now is ready at once", () => {
    const { s } = setup();
    s.push({ id: "now", priority: 1, runAt: T0 });
    s.push({ id: "past", priority: 1, runAt: T0 - 5_000 });
    expect(s.readyCount).toBe(2);
    expect(s.nextRunAt()).toBeUndefined();
    // "past" became ready when it was enqueued (now), not at its runAt: same age, FIFO.
    expect(drain(s)).toEqual(["now", "past"]);
  });

  it("a delayed entry ages from its runAt, not from when it was pushed", () => {
    const { clock, s } = setup(); // 1 point = 10 s
    s.push({ id: "delayed-p5", priority: 5, runAt: T0 + 100_000 });
    clock.advance(100_000);
    // Ready since T0: 10 points of age if aging counted from push; only 0 from runAt.
    s.push({ id: "p6", priority: 6, enqueuedAt: T0 + 100_000 });
    expect(s.pop()?.id).toBe("p6");
    s.push({ id: "p6-late", priority: 6, enqueuedAt: T0 + 110_000 });
    expect(s.pop()?.id).toBe("delayed-p5"); // tie at exactly 1 point: older push wins
  });

  it("a delayed entry in a slot past the first 64 keeps its aging key (that table grows on first use)", () => {
    // 300 ready entries take slots 0–299; the delayed ones land in slots the key table never had.
    const { clock, s } = setup(); // 1 point = 10 s
    for (let i = 0; i < 300; i++) s.push({ id: `r${i}`, priority: 0, enqueuedAt: T0 - 1_000_000 + i });
    s.push({ id: "d-p4", priority: 4, runAt: T0 + 10_000 });
    s.push({ id: "d-p5", priority: 5, runAt: T0 + 20_000 });
    for (let i = 0; i < 290; i++) s.pop();
    clock.advance(20_000);
    // Keys: r290… ≈ 0 + 100 points of age; d-p5: 5 + 0; d-p4: 4 + 1. The old ones first, then a tie
    // of 5 points that FIFO gives to d-p4, pushed first.
    expect(drain(s)).toEqual([...Array.from({ length: 10 }, (_, i) => `r${290 + i}`), "d-p4", "d-p5"]);
  });

  it("due entries move to the ready heap on peek, pop and readyCount", () => {
    const { clock, s } = setup(0);
    s.push({ id: "d", priority: 3, runAt: T0 + 10 });
    s.push({ id: "r", priority: 2 });
    expect(s.peek()?.id).toBe("r");
    clock.advance(10);
    expect(s.peek()?.id).toBe("d");
    expect(s.readyCount).toBe(2);
  });
});

describe("remove / has / size", () => {
  it("removes ready and delayed entries and keeps counts exact", () => {
    const { clock, s } = setup(0);
    for (let i = 0; i < 10; i++) s.push({ id: `r${i}`, priority: i });
    for (let i = 0; i < 5; i++) s.push({ id: `d${i}`, priority: 10, runAt: T0 + 1_000 * (i + 1) });
    expect([s.size, s.readyCount]).toEqual([15, 10]);
    expect(s.remove("r9")).toBe(true);
    expect(s.remove("r4")).toBe(true);
    expect(s.remove("d0")).toBe(true);
    expect(s.remove("d3")).toBe(true);
    expect(s.remove("d3")).toBe(false);
    expect(s.remove("nope")).toBe(false);
    expect([s.size, s.readyCount]).toEqual([11, 8]);
    expect(s.has("r4")).toBe(false);
    expect(s.has("r5")).toBe(true);
    expect(s.has("d1")).toBe(true);
    expect(s.nextRunAt()).toBe(T0 + 2_000);
    clock.advance(10_000);
    expect(drain(s)).toEqual(["d1", "d2", "d4", "r8", "r7", "r6", "r5", "r3", "r2", "r1", "r0"]);
    expect(s.size).toBe(0);
  });

  it("a removed id can be pushed again, and pop frees the id", () => {
    const { s } = setup();
    s.push({ id: "a", priority: 1 });
    s.remove("a");
    s.push({ id: "a", priority: 2 });
    expect(s.pop()?.priority).toBe(2);
    expect(s.has("a")).toBe(false);
    s.push({ id: "a", priority: 3 });
    expect(s.get("a")?.priority).toBe(3);
  });

  it("the empty string and non-ASCII ids are ids like any other", () => {
    const { s } = setup();
    const ids = ["", "é", "e\u0301", "😀", "\ud83d", "日本"];
    ids.forEach((id, i) => s.push({ id, priority: 10 - i }));
    expect(() => s.push({ id: "", priority: 1 })).toThrow(DuplicateJobError);
    expect(() => s.push({ id: "😀", priority: 1, runAt: T0 + 5 })).toThrow(DuplicateJobError);
    expect(ids.every((id) => s.has(id))).toBe(true);
    expect([s.has("e"), s.has("\ude00")]).toEqual([false, false]);
    expect(s.remove("e\u0301")).toBe(true);
    expect(s.has("é")).toBe(true); // precomposed é is a different string from e + combining accent
    expect(drain(s)).toEqual(["", "é", "😀", "\ud83d", "日本"]);
    expect(s.size).toBe(0);
  });

  it("ids that differ only before a long shared suffix work as any others (the index hashes them whole)", () => {
    // They share the 16 code units the index hashes at first; past a few it switches to whole ids.
    const { clock, s } = setup(0);
    const id = (i: number) => `${i}:tenant-a/nightly-report`;
    for (let i = 0; i < 500; i++) s.push({ id: id(i), priority: i % 2, ...(i % 5 === 0 ? { runAt: T0 + 1 } : {}) });
    expect(() => s.push({ id: id(7), priority: 3 })).toThrow(DuplicateJobError);
    expect([s.size, s.has(id(499)), s.has(id(500)), s.remove(id(1)), s.remove(id(5))]).toEqual([500, true, false, true, true]);
    clock.advance(1);
    const popped = drain(s);
    expect(popped).toHaveLength(498);
    // Priority 1 (odd i) first, then 0, each FIFO by push order (delayed ones too, aging off).
    const order = popped.map((x) => Number(x.split(":")[0]));
    const pushed = Array.from({ length: 500 }, (_, i) => i).filter((i) => i !== 1 && i !== 5);
    expect(order).toEqual([...pushed.filter((i) => i % 2 === 1), ...pushed.filter((i) => i % 2 === 0)]);
  });

  it("the id is indexed as pushed: pop and remove still work if the entry's id is changed later", () => {
    const { s } = setup();
    const entry: { id: string; priority: number } = { id: "a", priority: 1 };
    s.push(entry);
    s.push({ id: "b", priority: 0 });
    entry.id = "changed";
    expect(s.has("a")).toBe(true);
    expect(s.pop()).toBe(entry);
    expect([s.has("a"), s.has("changed"), s.size]).toEqual([false, false, 1]);
    s.push({ id: "a", priority: 1 }); // "a" was freed by the pop
    expect(s.remove("a")).toBe(true);
    expect(s.entries().map((e) => e.id)).toEqual(["b"]);
  });

  it("many ids: every one is found while others come and go, and size stays exact", () => {
    const { s } = setup();
    for (let i = 0; i < 20_000; i++) {
      s.push({ id: `m${i}`, priority: i % 11 });
      if (i % 4 === 3) expect(s.remove(`m${i - 2}`)).toBe(true);
    }
    expect(s.size).toBe(15_000);
    for (let i = 0; i < 20_000; i++) expect(s.has(`m${i}`)).toBe(i % 4 !== 1);
    for (let i = 0; i < 14_000; i++) s.pop();
    expect(s.size).toBe(1_000);
    expect(s.entries().filter((e) => s.get(e.id) === e)).toHaveLength(1_000);
  });

  it("entries() lists ready and delayed; clear() empties everything", () => {
    const { s } = setup();
    s.push({ id: "a", priority: 1 });
    s.push({ id: "b", priority: 1, runAt: T0 + 1 });
    expect(
      s
        .entries()
        .map((e) => e.id)
        .sort(),
    ).toEqual(["a", "b"]);
    s.clear();
    expect([s.size, s.readyCount, s.nextRunAt(), s.has("a")]).toEqual([0, 0, undefined, false]);
    s.push({ id: "a", priority: 1 });
    expect(s.pop()?.id).toBe("a");
  });
});

describe("bad input", () => {
  function snapshot(s: PriorityScheduler): unknown {
    return [
      s.size,
      s.readyCount,
      s.nextRunAt(),
      s
        .entries()
        .map((e) => e.id)
        .sort(),
    ];
  }

  it("rejects a duplicate id (ready or delayed) with DuplicateJobError and changes nothing", () => {
    const { s } = setup();
    s.push({ id: "a", priority: 1 });
    s.push({ id: "b", priority: 1, runAt: T0 + 5 });
    const before = snapshot(s);
    for (const id of ["a", "b"]) {
      let err: unknown;
      try {
        s.push({ id, priority: 9 });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(DuplicateJobError);
      expect(isPyrexisError(err, "DUPLICATE_JOB")).toBe(true);
      expect((err as DuplicateJobError).jobId).toBe(id);
    }
    expect(snapshot(s)).toEqual(before);
    expect(s.pop()?.priority).toBe(1);
  });

  it("a duplicate push leaves the queue intact: the original entry still pops and removes", () => {
    const { clock, s } = setup();
    // One original in each place an entry can be: a level's FIFO ring, its late lane (readyAt
    // earlier than the ring's tail), the delayed heap.
    const fifo = { id: "fifo", priority: 4 };
    const late = { id: "late", priority: 4, enqueuedAt: T0 - 60_000 };
    const delayed = { id: "delayed", priority: 4, runAt: T0 + 1_000 };
    for (const e of [{ id: "before", priority: 4 }, fifo, { id: "after", priority: 4 }, late, delayed]) s.push(e);
    const before = snapshot(s);
    for (const original of [fifo, late, delayed]) {
      for (const dup of [
        { id: original.id, priority: 9 },
        { id: original.id, priority: 4, enqueuedAt: T0 - 120_000 },
        { id: original.id, priority: 0, runAt: T0 + 500 },
      ]) {
        expect(() => s.push(dup)).toThrow(DuplicateJobError);
        expect(s.get(original.id)).toBe(original);
      }
    }
    expect(snapshot(s)).toEqual(before);
    expect(s.remove("fifo")).toBe(true);
    expect(s.has("fifo")).toBe(false);
    clock.advance(1_000);
    // late: ready 60 s before the others (6 points at 0.1/s); delayed: ready at T0 + 1 s.
    expect(drain(s)).toEqual(["late", "before", "after", "delayed"]);
    expect([s.size, s.readyCount]).toEqual([0, 0]);
    // The slot the failed push took was given back: the queue still works at the next id.
    s.push({ id: "delayed", priority: 1 });
    expect(s.remove("delayed")).toBe(true);
    expect(s.size).toBe(0);
  });

  it.each([
    ["priority", { id: "x", priority: -1 }],
    ["priority", { id: "x", priority: 11 }],
    ["priority", { id: "x", priority: 2.5 }],
    ["priority", { id: "x", priority: Number.NaN }],
    ["priority", { id: "x", priority: "5" as unknown as number }],
    ["runAt", { id: "x", priority: 5, runAt: Number.POSITIVE_INFINITY }],
    ["runAt", { id: "x", priority: 5, runAt: Number.NaN }],
    ["enqueuedAt", { id: "x", priority: 5, enqueuedAt: Number.NEGATIVE_INFINITY }],
    ["id", { id: 7 as unknown as string, priority: 5 }],
  ])("rejects a bad %s with a ValidationError naming the field and changes nothing", (field, entry) => {
    const { s } = setup();
    s.push({ id: "keep", priority: 3 });
    const before = snapshot(s);
    let err: unknown;
    try {
      s.push(entry);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ValidationError);
    expect(isPyrexisError(err, "VALIDATION")).toBe(true);
    expect((err as ValidationError).issues[0]?.path).toEqual([field]);
    expect((err as Error).message).toContain(field);
    expect(snapshot(s)).toEqual(before);
    expect(s.has("x")).toBe(false);
  });

  it.each([-0.1, Number.NaN, Number.POSITIVE_INFINITY])("rejects agingRate %s", (agingRate) => {
    expect(() => new PriorityScheduler({ agingRate })).toThrow(ValidationError);
  });
});

describe("aging maths", () => {
  it("the default rate is 0.1 points per second: priority 0 is overtaken for at most 100 s", () => {
    expect(DEFAULT_AGING_RATE).toBe(0.1);
    expect(new PriorityScheduler().agingRate).toBe(0.1);
    expect(starvationBoundSeconds(0, DEFAULT_AGING_RATE)).toBe(100);
    expect(starvationBoundSeconds(5, 0.5)).toBe(10);
    expect(starvationBoundSeconds(10, 0.1)).toBe(0);
    expect(starvationBoundSeconds(3, 0)).toBe(Number.POSITIVE_INFINITY);
    expect(starvationBoundSeconds(10, 0)).toBe(0);
    expect(() => starvationBoundSeconds(11, 0.1)).toThrow(ValidationError);
  });

  it("agingKey and agingKeyMs order entries the same way as effective priority", () => {
    expect(agingKey(0, 0, 0.1)).toBe(agingKey(10, 100_000, 0.1));
    expect(agingKey(5, 1_000, 0.5)).toBe(4.5);
    expect(agingKeyMs(5, 1_000, 0.1)).toBe(49_000);
    expect(agingKeyMs(0, T0, 0.1)).toBe(agingKeyMs(10, T0 + 100_000, 0.1)); // exact at epoch scale
    expect(agingKeyMs(7, T0, 0)).toBe(7);
    expect(() => agingKey(5, Number.NaN, 0.1)).toThrow(ValidationError);
    expect(() => agingKeyMs(5, 0, -1)).toThrow(ValidationError);
  });
});
