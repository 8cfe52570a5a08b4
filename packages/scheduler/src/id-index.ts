// The scheduler's id → slot index: an open-addressing hash table in typed arrays, used instead of
// a `Map<string, number>` because the Map's `set` and `delete` were about half of all the time a
// push + pop took. Three things make it cheaper for this use:
// - a bucket is two adjacent Int32s, the id's 32-bit hash and the slot number, so a probe reads
//   one cache line and compares hashes; the id strings are compared only on a full hash match;
// - each slot remembers its bucket, so `pop` and `remove` delete without hashing the id again;
// - deletion is a backward shift (linear probing), so there are no tombstones to clean up;
// - it hashes only an id's last 16 code units until ids that collide show up (see `insert`).

/** Smallest number of buckets; a power of two. */
const MIN_BUCKETS = 64;
/**
 * Below this many buckets (512 KiB) the table grows 4× at a time rather than 2×: a queue filling
 * from empty rehashes half as often, and rehashing was a third of a 10k fill-and-drain's index time.
 */
const QUADRUPLE_BELOW = 1 << 16;
/** Initial length of the per-slot bucket table; it doubles as slot numbers grow. */
const MIN_SLOTS = 64;
/**
 * Code units of an id's end that a fresh index hashes (see {@link hashIdTail}). 16 covers a
 * UUIDv7's last two groups: the low counter bits and its 44 random bits.
 */
const TAIL = 16;
/**
 * Ids with the same hash as the one being inserted (and not equal to it) that one insert may
 * meet before the index switches to hashing whole ids. Under a seeded 32-bit hash even two such
 * ids in one probe run are a one-in-billions event; 8 means the ids share their hashed tail.
 */
const COLLISION_LIMIT = 8;

/**
 * A random 32-bit seed for {@link hashId}. From `crypto.getRandomValues`, not `Math.random`, whose
 * generator state can be recovered from a few of its outputs.
 */
function randomSeed(): number {
  return globalThis.crypto.getRandomValues(new Int32Array(1))[0] as number;
}

/**
 * Seeded 32-bit hash of a string's UTF-16 code units, every one of them (a hash of a bounded
 * sample of a long id would let an attacker vary the unsampled characters freely and collide at
 * will). Per pair of code units: xor them in as one 32-bit word, multiply by an odd constant (a
 * bijection), xor-shift the high bits down; then MurmurHash3's 32-bit finalizer so that the low bits, which pick the bucket,
 * depend on every input bit.
 *
 * Why seeded: job ids are user input. With a fixed, public hash function anyone could compute many
 * ids with equal hashes offline and submit them; linear probing then degrades to O(n) per
 * operation and a queue of n such ids costs O(n²) (hash flooding, a denial-of-service attack). A
 * per-index random seed, never exposed, makes those collisions unpredictable. This is not a keyed
 * cryptographic PRF such as SipHash — a seed only raises the cost of an attack, as V8's own seeded
 * string hash does — but the failure mode is bounded: collisions cost time, never correctness,
 * because the strings themselves are compared on every hash match.
 * @internal
 */
export function hashId(id: string, seed: number): number {
  return hashFrom(id, seed, 0);
}

/**
 * {@link hashId} of an id's last {@link TAIL} code units and its length: the same value as
 * `hashId` for an id of at most 16 code units. About 2 ns per code unit is what hashing costs here
 * (a `charCodeAt` each), so a 36-character UUID hashes in well under half the time. Sampling alone
 * would let an attacker vary the unhashed characters and collide at will, whatever the seed;
 * {@link IdIndex} detects exactly that and hashes whole ids from then on.
 * @internal
 */
export function hashIdTail(id: string, seed: number): number {
  return hashFrom(id, seed, id.length > TAIL ? id.length - TAIL : 0);
}

/** The seeded hash of `id`'s code units from index `from` on, and of its whole length. */
function hashFrom(id: string, seed: number, from: number): number {
  const n = id.length;
  let h = seed ^ n;
  let i = from;
  // Two code units per step (16 bits each, so the word is injective): half the multiplies.
  for (; i + 1 < n; i += 2) {
    h = Math.imul(h ^ (id.charCodeAt(i) | (id.charCodeAt(i + 1) << 16)), 0x9e3779b1);
    h ^= h >>> 15;
  }
  if (i < n) {
    h = Math.imul(h ^ id.charCodeAt(i), 0x9e3779b1);
    h ^= h >>> 15;
  }
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/**
 * Maps string ids to the caller's slot numbers (small non-negative integers, one per live id), by
 * open addressing with linear probing over a power-of-two number of buckets, at most 1/2 full
 * (then it grows, see {@link QUADRUPLE_BELOW}). Like a Java, Go or Rust hash map it does not
 * shrink as ids are deleted; it drops back to the minimum when it empties. Memory: 8 bytes per
 * bucket, 16–32 bytes per id at the high-water mark (16–64 below 32,768 ids), plus 12 bytes per
 * slot (its bucket and a reference to its id).
 *
 * It starts by hashing each id's tail ({@link hashIdTail}). An insert that meets
 * {@link COLLISION_LIMIT} other ids with its hash, which ids that differ only before their last
 * 16 code units do (by design or by attack), switches it for good to {@link hashId} of whole ids
 * and rehashes what it holds: .NET's `Dictionary<string, …>` does the same, switching to a
 * randomized hash after 100 collisions in a chain. An attacker gets at most that many cheap
 * collisions per hash value before the seeded whole-id hash applies.
 * @internal
 */
export class IdIndex {
  /** Number of ids in the index. */
  size = 0;
  /** Bucket `b` is `cells[2b]` (the id's hash) and `cells[2b + 1]` (slot + 1; 0 = empty). */
  #cells: Int32Array = new Int32Array(2 * MIN_BUCKETS);
  /** Number of buckets − 1. */
  #mask: number = MIN_BUCKETS - 1;
  /** `bucketOf[slot]`: the bucket holding that slot, kept current as buckets move. */
  #bucketOf: Int32Array = new Int32Array(MIN_SLOTS);
  /** `ids[slot]`: the id indexed at that slot, compared on a hash match. */
  #ids: (string | undefined)[] = [];
  readonly #seed: number;
  /** True once ids sharing their tails collided: whole ids are hashed from then on. */
  #whole = false;

  /** `seed` is for tests; by default a random one, see {@link hashId}. */
  constructor(seed: number = randomSeed()) {
    this.#seed = seed;
  }

  /** True once the index hashes whole ids rather than their tails (see the class notes). */
  get hashesWholeIds(): boolean {
    return this.#whole;
  }

  /** The id's 32-bit hash. A method so that tests can force collisions in a subclass. */
  hash(id: string): number {
    return this.#whole ? hashId(id, this.#seed) : hashIdTail(id, this.#seed);
  }

  /**
   * Indexes `id` at `slot` (which must not hold a live id) and returns true; or returns false,
   * changing nothing, when `id` is already indexed (compared exactly, as strings).
   */
  insert(id: string, slot: number): boolean {
    const h = this.hash(id);
    const cells = this.#cells;
    const mask = this.#mask;
    let b = h & mask;
    let same = 0;
    for (;;) {
      const s = cells[2 * b + 1] as number;
      if (s === 0) break;
      if (cells[2 * b] === h) {
        if (this.#ids[s - 1] === id) return false;
        // Every id with this hash sits in this probe run, so the insert meets them all.
        if (++same === COLLISION_LIMIT && !this.#whole) {
          this.#hashWholeIds();
          return this.insert(id, slot);
        }
      }
      b = (b + 1) & mask;
    }
    cells[2 * b] = h;
    cells[2 * b + 1] = slot + 1;
    if (slot >= this.#bucketOf.length) this.#growSlots(slot);
    this.#bucketOf[slot] = b;
    this.#ids[slot] = id;
    if (++this.size * 2 > mask + 1) this.#rehash((mask + 1) * (mask + 1 < QUADRUPLE_BELOW ? 4 : 2));
    return true;
  }

  /** The slot of `id`, or −1 when it is not indexed. */
  find(id: string): number {
    const h = this.hash(id);
    const cells = this.#cells;
    const mask = this.#mask;
    for (let b = h & mask; ; b = (b + 1) & mask) {
      const s = cells[2 * b + 1] as number;
      if (s === 0) return -1;
      if (cells[2 * b] === h && this.#ids[s - 1] === id) return s - 1;
    }
  }

  /** Removes the id indexed at `slot` (which must hold one), without hashing it again. */
  delete(slot: number): void {
    const cells = this.#cells;
    const mask = this.#mask;
    const bucketOf = this.#bucketOf;
    this.#ids[slot] = undefined;
    // Backward shift: walk the probe run after the hole; an entry whose home bucket is not
    // cyclically inside (hole, entry] can move back into the hole, which then moves to it. The run
    // ends at an empty bucket, so every remaining entry stays reachable from its home.
    let hole = bucketOf[slot] as number;
    for (let j = (hole + 1) & mask; ; j = (j + 1) & mask) {
      const s = cells[2 * j + 1] as number;
      if (s === 0) break;
      const home = (cells[2 * j] as number) & mask;
      if (((j - home) & mask) >= ((j - hole) & mask)) {
        cells[2 * hole] = cells[2 * j] as number;
        cells[2 * hole + 1] = s;
        bucketOf[s - 1] = hole;
        hole = j;
      }
    }
    cells[2 * hole] = 0;
    cells[2 * hole + 1] = 0;
    // No shrinking while entries remain (halving at 1/8 full made a drain ~40 % slower, one
    // rehash per halving); the buckets are given back when the index empties, which is O(1).
    if (--this.size === 0 && mask + 1 > MIN_BUCKETS) {
      this.#cells = new Int32Array(2 * MIN_BUCKETS);
      this.#mask = MIN_BUCKETS - 1;
    }
  }

  /** Calls `fn` with every indexed slot, in no particular order. */
  forEach(fn: (slot: number) => void): void {
    const cells = this.#cells;
    for (let i = 1; i < cells.length; i += 2) {
      const s = cells[i] as number;
      if (s !== 0) fn(s - 1);
    }
  }

  clear(): void {
    this.size = 0;
    this.#cells = new Int32Array(2 * MIN_BUCKETS);
    this.#mask = MIN_BUCKETS - 1;
    this.#bucketOf = new Int32Array(MIN_SLOTS);
    this.#ids = [];
  }

  /** Switches to hashing whole ids: every indexed id is hashed again, into fresh buckets. */
  #hashWholeIds(): void {
    this.#whole = true;
    const from = this.#cells;
    const to = new Int32Array(from.length);
    const mask = this.#mask;
    const bucketOf = this.#bucketOf;
    for (let i = 1; i < from.length; i += 2) {
      const s = from[i] as number;
      if (s === 0) continue;
      const h = this.hash(this.#ids[s - 1] as string);
      let b = h & mask;
      while (to[2 * b + 1] !== 0) b = (b + 1) & mask;
      to[2 * b] = h;
      to[2 * b + 1] = s;
      bucketOf[s - 1] = b;
    }
    this.#cells = to;
  }

  /** Moves every entry into `buckets` buckets, by its stored hash (no id is hashed again). */
  #rehash(buckets: number): void {
    const from = this.#cells;
    const to = new Int32Array(2 * buckets);
    const mask = buckets - 1;
    const bucketOf = this.#bucketOf;
    for (let i = 0; i < from.length; i += 2) {
      const s = from[i + 1] as number;
      if (s === 0) continue;
      const h = from[i] as number;
      let b = h & mask;
      while (to[2 * b + 1] !== 0) b = (b + 1) & mask;
      to[2 * b] = h;
      to[2 * b + 1] = s;
      bucketOf[s - 1] = b;
    }
    this.#cells = to;
    this.#mask = mask;
  }

  #growSlots(slot: number): void {
    let n = this.#bucketOf.length;
    while (n <= slot) n *= 2;
    const next = new Int32Array(n);
    next.set(this.#bucketOf);
    this.#bucketOf = next;
  }
}
