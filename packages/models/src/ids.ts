import { v7 } from "uuid";

/**
 * A new job id: a UUIDv7, so ids sort by creation time (lexicographically and in SQL indexes)
 * and are collision-safe across processes (74 random bits, monotonic within a process).
 */
export function generateJobId(): string {
  return v7();
}
