// The id → slot index on its own: exact duplicate detection, deletion inside probe runs
// (backward shift), growth and shrinking, and a model test against a Map. Weak hashes, forced by
// subclasses, make the collisions that a good hash would make too rare to test.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { IdIndex, hashId, hashIdTail } from "../src/id-index.js";

const SEED = Number(process.env["FC_SEED"] ?? 20_251_126);

/** Every id hashes to `h`: one probe run holds them all, each lookup compares strings. */
class ConstantHashIndex extends IdIndex {
  constructor(readonly h: number) {
    super(1);
  }
  override hash(): number {
    return this.h;
  }
}

/** Hash = the first code unit mod 4: a few long runs that overlap each other. */
class FewHashesIndex extends IdIndex {
  override hash(id: string): number {
    return (id.charCodeAt(0) || 0) & 3;
  }
}

/** Hands out slots like the scheduler's slot table: dense, freed ones reused LIFO. */
class Slots {
  #free: number[] = [];
  #next = 0;
  take(): number {
    return this.#free.pop() ?? this.#next++;
  }
  give(slot: number): void {
    this.#free.push(slot);
  }
}

/** Asserts the index maps exactly `model`'s ids to their slots, and nothing else. */
function expectSame(index: IdIndex, model: Map<string, number>, absent: Iterable<string> = []): void {
  expect(index.size).toBe(model.size);
  for (const [id, slot] of model) expect(index.find(id)).toBe(slot);
  for (const id of absent) if (!model.has(id)) expect(index.find(id)).toBe(-1);
  const slots: number[] = [];
  index.forEach((s) => slots.push(s));
  expect(slots.sort((a, b) => a - b)).toEqual([...model.values()].sort((a, b) => a - b));
}

describe("IdIndex", () => {
  it("finds, rejects duplicates exactly and deletes by slot", () => {
    const index = new IdIndex(7);
    expect(index.find("a")).toBe(-1);
    expect(index.insert("a", 0)).toBe(true);
    expect(index.insert("b", 1)).toBe(true);
    expect(index.insert("a", 2)).toBe(false);
    expect([index.size, index.find("a"), index.find("b"), index.find("c")]).toEqual([2, 0, 1, -1]);
    index.delete(0);
    expect([index.size, index.find("a"), index.find("b")]).toEqual([1, -1, 1]);
  });

  it("distinct ids with equal hashes are distinct: strings are compared on a hash match", () => {
    const index = new ConstantHashIndex(12345);
    const ids = ["x", "y", "xy", "yx", "", "x\0"];
    ids.forEach((id, slot) => expect(index.insert(id, slot)).toBe(true));
    ids.forEach((id, slot) => expect(index.insert(id, 100 + slot)).toBe(false));
    ids.forEach((id, slot) => expect(index.find(id)).toBe(slot));
    expect(index.find("z")).toBe(-1);
    expect(index.size).toBe(ids.length);
  });

  it("deleting anywhere in a run of colliding ids keeps the rest reachable (backward shift)", () => {
    // 40 ids in one run, deleted from the middle, the start and the end in turn; after each
    // delete every survivor is found and a deleted id is absent. A delete that emptied the bucket
    // without shifting the run back would cut the run and lose everything after it.
    const index = new ConstantHashIndex(5);
    const model = new Map<string, number>();
    for (let i = 0; i < 40; i++) {
      index.insert(`id${i}`, i);
      model.set(`id${i}`, i);
    }
    const order = [20, 0, 39, 21, 19, 1, 38, ...Array.from({ length: 40 }, (_, i) => i)];
    for (const i of order) {
      if (!model.has(`id${i}`)) continue;
      index.delete(i);
      model.delete(`id${i}`);
      expectSame(index, model, [`id${i}`]);
    }
    expect(index.size).toBe(0);
  });

  it("a run that wraps past the last bucket survives deletes on either side of the wrap", () => {
    // Hash −1 puts every id's home in the last bucket, so the run continues at bucket 0.
    const index = new ConstantHashIndex(-1);
    const model = new Map<string, number>();
    for (let i = 0; i < 20; i++) {
      index.insert(`w${i}`, i);
      model.set(`w${i}`, i);
    }
    for (const i of [0, 1, 10, 19, 5]) {
      index.delete(i);
      model.delete(`w${i}`);
      expectSame(index, model, [`w${i}`]);
    }
  });

  it("an entry whose home is inside the run after a deleted one does not move before its home", () => {
    // Runs from homes 0 … 3 overlap; deleting must move an entry back only to a bucket it could
    // have been probed from, or a later find for it would stop at an empty bucket first.
    const index = new FewHashesIndex(3);
    const ids = ["a0", "b0", "c0", "d0", "a1", "b1", "c1", "d1", "a2", "d2"]; // "a" is 97 → home 1
    const model = new Map<string, number>();
    ids.forEach((id, slot) => {
      index.insert(id, slot);
      model.set(id, slot);
    });
    for (const id of ["a0", "d0", "b1", "a2", "c0"]) {
      index.delete(model.get(id) as number);
      model.delete(id);
      expectSame(index, model, ids);
    }
  });

  it("remove then re-insert of the same id, at the same or another slot", () => {
    const index = new IdIndex(9);
    index.insert("job", 3);
    index.delete(3);
    expect(index.find("job")).toBe(-1);
    expect(index.insert("job", 3)).toBe(true);
    expect(index.find("job")).toBe(3);
    index.delete(3);
    expect(index.insert("job", 8)).toBe(true);
    expect(index.insert("job", 9)).toBe(false);
    expect([index.find("job"), index.size]).toEqual([8, 1]);
  });

  it("grows across many doublings with deletes interleaved, then mostly empties and refills, losing nothing", () => {
    for (const index of [new IdIndex(11), new FewHashesIndex(0)]) {
      const n = index instanceof FewHashesIndex ? 600 : 60_000;
      const slots = new Slots();
      const model = new Map<string, number>();
      for (let i = 0; i < n; i++) {
        const slot = slots.take();
        expect(index.insert(`g${i}`, slot)).toBe(true);
        model.set(`g${i}`, slot);
        if (i % 3 === 2) {
          // Delete an older id, so deletes happen in every table size on the way up.
          const victim = `g${i >> 1}`;
          const s = model.get(victim);
          if (s !== undefined) {
            index.delete(s);
            model.delete(victim);
            slots.give(s);
          }
        }
      }
      expectSame(index, model, ["g-1", `g${n}`]);
      // Delete all but a few (it keeps its size), then grow again.
      for (const [id, slot] of [...model].slice(5)) {
        index.delete(slot);
        model.delete(id);
        slots.give(slot);
      }
      expectSame(index, model, ["g0", "g1"]);
      for (let i = 0; i < 1000; i++) {
        const slot = slots.take();
        index.insert(`again${i}`, slot);
        model.set(`again${i}`, slot);
      }
      expectSame(index, model);
    }
  });

  it("non-ASCII ids, lone surrogates and the empty string are ordinary ids", () => {
    const ids = ["", " ", "é", "e\u0301", "\u00e9\u00e9", "日本語", "😀", "\ud83d", "\ude00", "\ud83d\ude00x", "a\0b", "a\0c"];
    for (const index of [new IdIndex(13), new ConstantHashIndex(0)]) {
      ids.forEach((id, slot) => expect(index.insert(id, slot)).toBe(true));
      ids.forEach((id, slot) => expect(index.insert(id, 50 + slot)).toBe(false));
      ids.forEach((id, slot) => expect(index.find(id)).toBe(slot));
      expect(index.find("e")).toBe(-1);
      index.delete(0);
      expect([index.find(""), index.find(" ")]).toEqual([-1, 1]);
    }
  });

  it("emptied by deletes it starts small again and works, refilled past its old size", () => {
    for (const index of [new IdIndex(2), new ConstantHashIndex(-1)]) {
      const n = index instanceof ConstantHashIndex ? 300 : 5_000;
      for (let round = 0; round < 3; round++) {
        const model = new Map<string, number>();
        for (let i = 0; i < n * (round + 1); i++) {
          index.insert(`r${round}-${i}`, i);
          model.set(`r${round}-${i}`, i);
        }
        expectSame(index, model, [`r${round - 1}-0`]);
        for (let i = n * (round + 1) - 1; i >= 0; i--) index.delete(i);
        expectSame(index, new Map(), [`r${round}-0`, `r${round}-1`]);
      }
    }
  });

  it("clear empties it and it works afterwards", () => {
    const index = new IdIndex(1);
    for (let i = 0; i < 500; i++) index.insert(`c${i}`, i);
    index.clear();
    expect([index.size, index.find("c1")]).toEqual([0, -1]);
    expect(index.insert("c1", 0)).toBe(true);
    expect(index.find("c1")).toBe(0);
  });

  it("matches a Map for random inserts, duplicate inserts, deletes and finds (fast-check)", () => {
    console.log(`fast-check seed ${SEED}`);
    const make = [() => new IdIndex(SEED), () => new FewHashesIndex(0), () => new ConstantHashIndex(-1)];
    const id = fc.string({ unit: fc.constantFrom("a", "b", "c", "é", "\ud83d"), maxLength: 4 });
    const command = fc.oneof(
      { weight: 5, arbitrary: fc.record({ op: fc.constant("insert" as const), id }) },
      { weight: 3, arbitrary: fc.record({ op: fc.constant("delete" as const), pick: fc.nat() }) },
      { weight: 2, arbitrary: fc.record({ op: fc.constant("find" as const), id }) },
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 }), fc.array(command, { maxLength: 300 }), (kind, commands) => {
        const index = (make[kind] as () => IdIndex)();
        const slots = new Slots();
        const model = new Map<string, number>();
        for (const c of commands) {
          if (c.op === "insert") {
            const slot = slots.take();
            const inserted = index.insert(c.id, slot);
            expect(inserted).toBe(!model.has(c.id));
            if (inserted) model.set(c.id, slot);
            else slots.give(slot);
          } else if (c.op === "delete") {
            if (model.size === 0) continue;
            const [victim, slot] = [...model][c.pick % model.size] as [string, number];
            index.delete(slot);
            model.delete(victim);
            slots.give(slot);
          } else {
            expect(index.find(c.id)).toBe(model.get(c.id) ?? -1);
          }
        }
        expectSame(index, model);
      }),
      { seed: SEED, numRuns: 300 },
    );
  });
});

/** A UUIDv7-shaped id: `ms` as its 48-bit timestamp, then `n` as counter and tail digits. */
function uuidLike(ms: number, n: number): string {
  const hex = (x: number, width: number) => x.toString(16).padStart(width, "0").slice(-width);
  const t = hex(ms, 12);
  return `${t.slice(0, 8)}-${t.slice(8)}-7${hex(n >>> 12, 3)}-${hex(0x8000 | (n & 0x3fff), 4)}-${hex(Math.imul(n, 0x9e3779b1) >>> 0, 12)}`;
}

/** 17 code units: ids built as `<something>${SUFFIX}` share their hashed tail. */
const SUFFIX = "-shared-suffix-17";

describe("IdIndex: tail hashing and the switch to whole ids", () => {
  it("ids sharing a long prefix (UUIDv7 of one millisecond) are told apart by their tails: no switch", () => {
    const index = new IdIndex(21);
    const model = new Map<string, number>();
    for (let i = 0; i < 20_000; i++) {
      const id = uuidLike(0x019b76daa801 + (i >> 6), i);
      expect(index.insert(id, i)).toBe(true);
      model.set(id, i);
    }
    expect(index.hashesWholeIds).toBe(false);
    expectSame(index, model, [uuidLike(0, 0), uuidLike(0x019b76daa801, 1 << 20)]);
  });

  it("ids that differ only before a shared 16-code-unit tail switch it to whole ids, losing nothing", () => {
    const index = new IdIndex(22);
    const model = new Map<string, number>();
    // 8 ids with one hash: the 8th insert meets 7, below the limit.
    for (let i = 0; i < 8; i++) {
      index.insert(`${i}${SUFFIX}`, i);
      model.set(`${i}${SUFFIX}`, i);
    }
    expect(index.hashesWholeIds).toBe(false);
    expectSame(index, model);
    // The 9th meets 8 of them: switch, rehash, and the insert goes ahead.
    expect(index.insert(`8${SUFFIX}`, 8)).toBe(true);
    model.set(`8${SUFFIX}`, 8);
    expect(index.hashesWholeIds).toBe(true);
    expectSame(index, model, [`9${SUFFIX}`, SUFFIX]);
    expect(index.insert(`3${SUFFIX}`, 30)).toBe(false);
    // Deletes by slot still find their (new) buckets, and it keeps growing correctly.
    for (const i of [0, 8, 4]) {
      index.delete(i);
      model.delete(`${i}${SUFFIX}`);
    }
    for (let i = 9; i < 5_000; i++) {
      index.insert(`${i}${SUFFIX}`, i);
      model.set(`${i}${SUFFIX}`, i);
    }
    expectSame(index, model, [`0${SUFFIX}`, `8${SUFFIX}`]);
  });

  it("after the switch it hashes with hashId, so those ids no longer share a hash", () => {
    const seen: number[] = [];
    class Spy extends IdIndex {
      override hash(id: string): number {
        const h = super.hash(id);
        seen.push(h);
        return h;
      }
    }
    const index = new Spy(23);
    for (let i = 0; i < 9; i++) index.insert(`${i}${SUFFIX}`, i);
    expect(index.hashesWholeIds).toBe(true);
    seen.length = 0;
    for (let i = 0; i < 9; i++) expect(index.find(`${i}${SUFFIX}`)).toBe(i);
    expect(seen).toEqual(Array.from({ length: 9 }, (_, i) => hashId(`${i}${SUFFIX}`, 23)));
    expect(new Set(seen).size).toBe(9);
  });

  it("a forced constant hash switches once and stays correct (whole-id hashing cannot help it)", () => {
    const index = new ConstantHashIndex(77);
    const model = new Map<string, number>();
    for (let i = 0; i < 100; i++) {
      expect(index.insert(`k${i}`, i)).toBe(true);
      model.set(`k${i}`, i);
    }
    expect(index.hashesWholeIds).toBe(true);
    expectSame(index, model, ["k100"]);
  });

  it("the switch lasts: emptied and cleared, it goes on hashing whole ids", () => {
    const index = new IdIndex(24);
    for (let i = 0; i < 9; i++) index.insert(`${i}${SUFFIX}`, i);
    for (let i = 0; i < 9; i++) index.delete(i);
    expect([index.size, index.hashesWholeIds]).toEqual([0, true]);
    index.clear();
    expect(index.hashesWholeIds).toBe(true);
    for (let i = 0; i < 9; i++) expect(index.insert(`${i}${SUFFIX}`, i)).toBe(true);
    expect(index.find(`5${SUFFIX}`)).toBe(5);
  });

  it("ids of unusual lengths and non-ASCII tails, before and after the switch", () => {
    const ids = [
      "",
      "a",
      "x".repeat(15),
      "x".repeat(16),
      "x".repeat(17),
      "y".repeat(17),
      `y${"x".repeat(16)}`,
      "😀".repeat(8), // 16 code units
      `a${"😀".repeat(8)}`,
      `${"😀".repeat(8)}\ud83d`, // a lone high surrogate at the very end
      `\ude00${"é".repeat(15)}`, // a surrogate half just outside the tail
      `\ud83d${"é".repeat(15)}`,
      "日本語のジョブ識別子".repeat(4),
      "z".repeat(100_000),
      `${"z".repeat(99_999)}y`,
      `y${"z".repeat(99_999)}`,
    ];
    for (const force of [false, true]) {
      const index = new IdIndex(25);
      if (force) for (let i = 0; i < 9; i++) index.insert(`${i}${SUFFIX}`, 1000 + i);
      expect(index.hashesWholeIds).toBe(force);
      ids.forEach((id, slot) => expect(index.insert(id, slot)).toBe(true));
      ids.forEach((id, slot) => expect(index.insert(id, 100 + slot)).toBe(false));
      ids.forEach((id, slot) => expect(index.find(id)).toBe(slot));
      expect(index.find("x".repeat(18))).toBe(-1);
    }
  });

  it("matches a Map when ids share tails and prefixes, across the switch (fast-check)", () => {
    const id = fc
      .tuple(
        fc.string({ unit: fc.constantFrom("a", "é", "\ud83d"), maxLength: 3 }),
        fc.constantFrom("", SUFFIX, `${SUFFIX}x`, "x".repeat(20)),
      )
      .map(([head, tail]) => head + tail);
    const command = fc.oneof(
      { weight: 5, arbitrary: fc.record({ op: fc.constant("insert" as const), id }) },
      { weight: 2, arbitrary: fc.record({ op: fc.constant("delete" as const), pick: fc.nat() }) },
      { weight: 2, arbitrary: fc.record({ op: fc.constant("find" as const), id }) },
    );
    fc.assert(
      fc.property(fc.array(command, { maxLength: 300 }), (commands) => {
        const index = new IdIndex(SEED);
        const slots = new Slots();
        const model = new Map<string, number>();
        for (const c of commands) {
          if (c.op === "insert") {
            const slot = slots.take();
            const inserted = index.insert(c.id, slot);
            expect(inserted).toBe(!model.has(c.id));
            if (inserted) model.set(c.id, slot);
            else slots.give(slot);
          } else if (c.op === "delete") {
            if (model.size === 0) continue;
            const [victim, slot] = [...model][c.pick % model.size] as [string, number];
            index.delete(slot);
            model.delete(victim);
            slots.give(slot);
          } else {
            expect(index.find(c.id)).toBe(model.get(c.id) ?? -1);
          }
        }
        expectSame(index, model);
      }),
      { seed: SEED, numRuns: 300 },
    );
  });
});

describe("hashId", () => {
  it("depends on the seed (so collisions cannot be precomputed) and on every code unit", () => {
    expect(hashId("job-1", 1)).toBe(hashId("job-1", 1));
    expect(hashId("job-1", 1)).not.toBe(hashId("job-1", 2));
    const long = "x".repeat(1000);
    // A change at any position, including deep inside a long id, changes the hash.
    for (const i of [0, 1, 500, 998, 999]) {
      expect(hashId(`${long.slice(0, i)}y${long.slice(i + 1)}`, 1)).not.toBe(hashId(long, 1));
    }
    expect(hashId("", 1)).not.toBe(hashId("\0", 1));
    // Code units go in two at a time: their order within a pair and an odd last one count too.
    expect(hashId("ab", 1)).not.toBe(hashId("ba", 1));
    expect(hashId("abc", 1)).not.toBe(hashId("ab", 1));
    expect(hashId("a\0", 1)).not.toBe(hashId("a", 1));
    expect(hashId("\u0001\0", 1)).not.toBe(hashId("\0\u0001", 1));
  });

  it("hashIdTail is hashId for ids of up to 16 code units, and of the last 16 and the length beyond", () => {
    for (const id of ["", "a", "j1299999", "x".repeat(16), "😀".repeat(8)]) expect(hashIdTail(id, 3)).toBe(hashId(id, 3));
    const long = "019b76da-a801-7017-be2a-5ffab2856777"; // 36: the tail is "be2a-5ffab2856777"
    expect(hashIdTail(long, 3)).toBe(hashIdTail(`X${long.slice(1)}`, 3)); // a change before the tail
    expect(hashIdTail(long, 3)).not.toBe(hashIdTail(`${long.slice(0, 35)}8`, 3)); // in the tail
    expect(hashIdTail(long, 3)).not.toBe(hashIdTail(`0${long}`, 3)); // the length counts
    expect(hashIdTail(long, 3)).not.toBe(hashIdTail(long, 4)); // and the seed
    expect(hashIdTail(long, 3)).not.toBe(hashId(long, 3));
  });

  it("spreads UUIDv7 ids of one millisecond over the low bits, by their tails", () => {
    // As the test below, for 4096 UUIDs sharing their first 19 characters.
    const used = new Set<number>();
    for (let i = 0; i < 4096; i++) used.add(hashIdTail(uuidLike(0x019b76daa801, i), 0x5eed) & 1023);
    expect(used.size).toBeGreaterThan(990);
  });

  it("spreads sequential ids over the low bits that pick a bucket", () => {
    // 4096 ids into 1024 buckets by the low 10 bits: a uniform hash fills ~98 % (1 − e⁻⁴).
    const used = new Set<number>();
    for (let i = 0; i < 4096; i++) used.add(hashId(`job-${i}`, 0x5eed) & 1023);
    expect(used.size).toBeGreaterThan(990);
  });

  it("the default seed is random: two indexes hash the same id differently", () => {
    const a = new IdIndex();
    const b = new IdIndex();
    const ids = ["a", "b", "c", "d"];
    // 4 ids all equal by chance: probability 2^−128.
    expect(ids.every((id) => a.hash(id) === b.hash(id))).toBe(false);
  });
});
