// The README's example, executed. Keep the two in sync (only the import path differs).
import { expect, it } from "vitest";
import {
  ManualClock,
  createJob,
  createResult,
  isPyrexisError,
  parseJobSpec,
  recordFailure,
  startAttempt,
  transition,
} from "../src/index.js";

it("README example runs as documented", () => {
  // --- README example start ---
  const clock = new ManualClock(Date.UTC(2025, 0, 1));

  // Validate what a user submitted; defaults are filled in.
  const spec = parseJobSpec({ handler: "embed", payload: { text: "hello" }, maxAttempts: 2 });
  let job = createJob(spec, clock.now()); // status "pending", attempts 0, version 0

  // First attempt fails: the job retries after 2 s (baseMs 1000 · 2^1).
  job = startAttempt(job, clock.now()); // "running", attempts 1
  const first = recordFailure(job, new Error("rate limited"), clock.now());
  console.log(first.willRetry, first.delayMs); // true 2000
  job = first.job; // "retrying", runAt = now + 2000

  // Second attempt succeeds.
  clock.set(job.runAt);
  job = startAttempt(job, clock.now()); // "running", attempts 2
  const startedAt = clock.now();
  clock.advance(150);
  job = transition(job, "completed", clock.now());
  const result = createResult({
    jobId: job.id,
    status: "completed",
    output: [0.1, 0.2],
    startedAt,
    endedAt: clock.now(),
    attempts: job.attempts,
  });
  console.log(result.durationMs, Object.isFrozen(result)); // 150 true

  // Bad input is a typed error that names the field.
  try {
    parseJobSpec({ handler: "embed", priority: 11 });
  } catch (e) {
    if (isPyrexisError(e, "VALIDATION")) console.log(e.message); // invalid job spec: priority: Too big: expected number to be <=10
  }
  // --- README example end ---

  expect(first).toMatchObject({ willRetry: true, delayMs: 2_000 });
  expect(job).toMatchObject({ status: "completed", attempts: 2, version: 4 });
  expect(result).toMatchObject({ durationMs: 150, attempts: 2 });
  expect(() => parseJobSpec({ handler: "embed", priority: 11 })).toThrow("invalid job spec: priority: Too big: expected number to be <=10");
});

it("README shows exactly the example executed above", async () => {
  const { readFile } = await import("node:fs/promises");
  const here = new URL(import.meta.url);
  const source = await readFile(here, "utf8");
  const readme = await readFile(new URL("../README.md", here), "utf8");
  const body = source.split("// --- README example start ---\n")[1]!.split("  // --- README example end ---")[0]!;
  const dedented = body
    .split("\n")
    .map((l) => (l.startsWith("  ") ? l.slice(2) : l))
    .join("\n")
    .trimEnd();
  expect(readme).toContain(dedented);
  expect(readme).toContain('} from "@pyrexis/models";');
});
