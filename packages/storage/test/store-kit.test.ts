import { describe, expect, it } from "vitest";
import type { Job, Result } from "@pyrexis/models";
import { bump, makeJob, makeResult } from "../src/conformance/index.js";
import { checkCommit, type CommitView } from "../src/kit.js";

/** A view over plain maps that records which lookups checkCommit made. */
function viewOf(jobs: Job[], results: Result[], withStoredHasResult: boolean) {
  const byId = new Map(jobs.map((j) => [j.id, { job: j, hasResult: results.some((r) => r.jobId === j.id) }]));
  const calls: string[] = [];
  const view: CommitView<{ version: number; createdAt: number; job: Job; hasResult: boolean }> = {
    job: (id) => {
      calls.push(`job:${id}`);
      const r = byId.get(id);
      return r && { version: r.job.version, createdAt: r.job.createdAt, job: r.job, hasResult: r.hasResult };
    },
    hasResult: (id) => {
      calls.push(`hasResult:${id}`);
      return byId.get(id)?.hasResult ?? false;
    },
  };
  if (withStoredHasResult) {
    view.storedHasResult = (stored) => {
      calls.push(`storedHasResult:${stored.job.id}`);
      return stored.hasResult;
    };
  }
  return { view, calls };
}

describe("checkCommit outputs", () => {
  it("hands back the stored record of each update and of each result's updated job", () => {
    const a = makeJob();
    const b = makeJob();
    const c = makeJob();
    const { view, calls } = viewOf([a, b], [], true);
    const { stored, resultJobs } = checkCommit(
      {
        insert: [c],
        update: [
          { job: bump(b), expectedVersion: 0 },
          { job: bump(a), expectedVersion: 0 },
        ],
        results: [makeResult(a.id), makeResult(c.id), makeResult(b.id)],
      },
      view,
    );
    expect(stored.map((s) => s.job.id)).toEqual([b.id, a.id]);
    expect(resultJobs.map((s) => (s as { job: Job } | undefined)?.job.id)).toEqual([a.id, undefined, b.id]);
    // Results of updated jobs are answered from their records; the inserted job's by hasResult.
    expect(calls.filter((c) => !c.startsWith("job:"))).toEqual([`storedHasResult:${a.id}`, `hasResult:${c.id}`, `storedHasResult:${b.id}`]);
  });

  it("refuses a second result of an updated job through storedHasResult, and through hasResult without it", () => {
    const a = makeJob();
    for (const withStoredHasResult of [true, false]) {
      const { view } = viewOf([a], [makeResult(a.id)], withStoredHasResult);
      expect(() => checkCommit({ update: [{ job: bump(a), expectedVersion: 0 }], results: [makeResult(a.id)] }, view)).toThrow(
        expect.objectContaining({ name: "ResultExistsError", jobId: a.id }),
      );
    }
  });
});
