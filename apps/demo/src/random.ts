import { seededRandom } from "@pyrexis/models";

/** A seeded PRNG (mulberry32, from @pyrexis/models): the same seed gives the same batch, failures included. */
export const mulberry32: (seed: number) => () => number = seededRandom;

/** FNV-1a hash of a string, 32 bits. */
export function fnv1a(text: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** A number in [0, 1) fixed by the parts (e.g. seed, job id, attempt): deterministic "chance". */
export function chance(...parts: (string | number)[]): number {
  return mulberry32(fnv1a(parts.join("\u0000")))();
}
