// Deterministic UUIDv7-shaped ids for the scheduler benches (the engine's job ids are UUIDv7).

/**
 * `n` ids shaped like the engine's (`generateJobId` of @pyrexis/models: 48-bit ms timestamp,
 * version 7, a 30-bit counter started at a random value each millisecond, variant, 44 random
 * bits), but deterministic: a fixed start time, 16 ids per millisecond, randomness from `random`.
 * Written through a latin1 buffer as the engine's are, so they are flat one-byte strings (a
 * template-literal concatenation would make cons strings, which the engine never queues).
 * @param {number} n @param {() => number} random
 */
export function uuidV7Ids(n, random) {
  const text = Buffer.from("00000000-0000-0000-0000-000000000000", "latin1");
  const at = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
  const bytes = new Uint8Array(16);
  const HEX = Buffer.from("0123456789abcdef", "latin1");
  const byte = () => Math.floor(random() * 256);
  const out = new Array(n);
  let ms = Date.UTC(2026, 0, 1);
  let counter = 0;
  for (let i = 0; i < n; i++) {
    if (i % 16 === 0) {
      ms++;
      counter = Math.floor(random() * 2 ** 29);
    } else {
      counter++;
    }
    const hi = Math.floor(ms / 2 ** 32);
    const lo = ms >>> 0;
    bytes.set([hi >>> 8, hi, lo >>> 24, lo >>> 16, lo >>> 8, lo]);
    bytes[6] = 0x70 | ((counter >>> 26) & 0x0f);
    bytes[7] = counter >>> 18;
    bytes[8] = 0x80 | ((counter >>> 12) & 0x3f);
    bytes[9] = counter >>> 4;
    bytes[10] = ((counter & 0x0f) << 4) | (byte() & 0x0f);
    for (let b = 11; b < 16; b++) bytes[b] = byte();
    for (let b = 0; b < 16; b++) {
      const v = /** @type {number} */ (bytes[b]);
      const t = /** @type {number} */ (at[b]);
      text[t] = /** @type {number} */ (HEX[v >>> 4]);
      text[t + 1] = /** @type {number} */ (HEX[v & 15]);
    }
    out[i] = text.toString("latin1");
  }
  return out;
}
