import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createJob, createResult, parseJobSpec, transition, type Job, type Result } from "@pyrexis/models";

/** A pending job with a fixed id and creation time. */
export function job(id: string, createdAt = 1_000, extra: { priority?: number; payload?: unknown } = {}): Job {
  return createJob(
    parseJobSpec({ id, handler: "work", payload: (extra.payload ?? { n: id }) as never, priority: extra.priority }),
    createdAt,
  );
}

/** The same job moved to `running` (version + 1). */
export function running(j: Job, now = j.updatedAt + 1): Job {
  return transition(j, "running", now, { attempts: j.attempts + 1 });
}

/** A completed result for `jobId`. */
export function result(jobId: string, output: unknown = "ok"): Result {
  return createResult({ jobId, status: "completed", output: output as never, startedAt: 2_000, endedAt: 2_500, attempts: 1 });
}

/** SHA-256 of a file's bytes. */
export function hashFile(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

/** The rejection of `p` (fails the test when `p` fulfils). */
export async function rejection(p: Promise<unknown>): Promise<Error & { code?: string; jobId?: string }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { code?: string; jobId?: string };
  }
  throw new Error("expected a rejection, but the promise fulfilled");
}
