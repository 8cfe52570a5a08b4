import assert from "node:assert/strict";
import type { Job, JsonValue } from "@pyrexis/models";
import { bump, makeJob, makeResult } from "./data.js";
import { plain, storeTest, tryMutate, type JobStoreFactory, type TestApi } from "./harness.js";

const UNICODE = [
  "plain ascii",
  "accents: café, naïve, Ångström",
  "CJK: 日本語のテキスト, 中文, 한국어",
  "RTL: שלום עולם, مرحبا بالعالم",
  "astral: 𝄞 𝕏 𠜎 🀄",
  "emoji: 😀👍🏽👨‍👩‍👧‍👦🏳️‍🌈",
  "combining: e\u0301 a\u0308",
  "controls in payload: tab\t nl\n nul\u0000 del\u007f",
  "quotes: \" ' ` \\ /",
  "zero width: a\u200bb\ufeffc",
];

function deepNest(depth: number): JsonValue {
  let v: JsonValue = { leaf: "bottom" };
  for (let i = 0; i < depth; i++) v = i % 2 === 0 ? { level: i, next: v } : [i, v];
  return v;
}

/**
 * Round trips: every field of jobs and results comes back exactly (deep equality, optional
 * fields absent stay absent), including unicode, multi-MB payloads and deeply nested JSON; and
 * stores hand out copies (or frozen objects), so mutating what was passed in or handed out never
 * changes stored data.
 */
export function roundTrips(api: TestApi, factory: JobStoreFactory, seed: number): void {
  const t = (title: string, body: Parameters<typeof storeTest>[4]): void => storeTest(api, factory, seed, title, body);
  api.describe("round trips", () => {
    t("getJob/getResult return undefined for unknown ids", async ({ store }) => {
      assert.equal(await store.getJob("no-such-job"), undefined);
      assert.equal(await store.getResult("no-such-job"), undefined);
    });

    t("an inserted job reads back deep-equal, with absent optional fields absent", async ({ store }) => {
      const job = makeJob();
      const expected = plain(job);
      await store.commit({ insert: [job] });
      const got = await store.getJob(job.id);
      assert.deepStrictEqual(plain(got), expected);
      assert.ok(got && !("timeoutMs" in got), "absent timeoutMs must stay absent (no key with undefined)");
      assert.ok(got && !("lastError" in got), "absent lastError must stay absent (no key with undefined)");
    });

    t("every optional field round-trips when present", async ({ store }) => {
      const job = makeJob({
        status: "retrying",
        attempts: 2,
        maxAttempts: 7,
        priority: 10,
        mode: "thread",
        timeoutMs: 30_000,
        backoff: { baseMs: 250, maxMs: 60_000, jitter: 0.25 },
        lastError: {
          name: "TimeoutError",
          message: "timed out after 30000 ms",
          code: "TIMEOUT",
          stack: "TimeoutError: …\n    at x (y.js:1:2)",
        },
        attemptErrors: [
          { attempt: 1, at: 1_749_999_000_000, error: { name: "Error", message: "429 Too Many Requests", code: "E_RATE" } },
          { attempt: 2, at: 1_750_000_000_000, error: { name: "TimeoutError", message: "timed out after 30000 ms", code: "TIMEOUT" } },
        ],
        runAt: 1_800_000_000_000,
        updatedAt: 1_750_000_000_000,
        version: 3,
        limits: [
          { key: "openai", units: 1200 },
          { key: "tenant-a/requests", units: 1 },
        ],
        group: "tenant-a",
      });
      const expected = plain(job);
      await store.commit({ insert: [job] });
      assert.deepStrictEqual(plain(await store.getJob(job.id)), expected);
      const partialError = makeJob({ lastError: { name: "Error", message: "no code, no stack" } });
      await store.commit({ insert: [partialError] });
      const got = await store.getJob(partialError.id);
      assert.deepStrictEqual(plain(got?.lastError), { name: "Error", message: "no code, no stack" });
      assert.ok(got?.lastError && !("code" in got.lastError) && !("stack" in got.lastError), "absent error fields must stay absent");
    });

    t("unicode (astral, emoji, RTL, combining, control chars in payload) round-trips in ids, names and payloads", async ({ store }) => {
      const jobs: Job[] = UNICODE.map((text, i) =>
        makeJob({
          id: `ü-${i}-${["😀", "𝄞", "日本", "ש", "e\u0301"][i % 5]}-${i}`,
          handler: `handler-${["😀", "𠜎", "ß"][i % 3]}`,
          mode: i % 2 ? "custom-模式" : "async",
          payload: { text, [text]: text, list: [text, { nested: text }] },
        }),
      );
      const expected = jobs.map(plain);
      await store.commit({ insert: jobs });
      for (const e of expected) assert.deepStrictEqual(plain(await store.getJob(e.id)), e, `job ${e.id}`);
      const result = makeResult(jobs[4]!.id, { output: { text: UNICODE[5]! } });
      await store.commit({ results: [result] });
      assert.deepStrictEqual(plain(await store.getResult(jobs[4]!.id)), plain(result));
    });

    t("JSON edge values round-trip (numbers, empty containers, null, odd keys)", async ({ store }) => {
      const payload = JSON.parse(
        '{"__proto__":{"polluted":true},"constructor":1,"":"empty key","n":[0,-1,1.5,-0.000001,1e300,9007199254740991,-9007199254740991,3.141592653589793],"e":[{},[],null,true,false,""],"s":"x"}',
      ) as JsonValue;
      for (const p of [payload, null, 0, "just a string", [], {}, true] as JsonValue[]) {
        const job = makeJob({ payload: p });
        await store.commit({ insert: [job] });
        assert.deepStrictEqual(plain(await store.getJob(job.id))?.payload, plain(p));
      }
      assert.equal(({} as Record<string, unknown>).polluted, undefined, "a __proto__ key must not pollute Object.prototype");
    });

    t("a payload of several MB round-trips", async ({ store }) => {
      const big = "x".repeat(3 * 1024 * 1024);
      const rows = Array.from({ length: 20_000 }, (_, i) => ({ i, label: `row ${i} ✓` }));
      const job = makeJob({ payload: { big, rows } });
      await store.commit({ insert: [job] });
      const got = await store.getJob(job.id);
      const p = got?.payload as { big: string; rows: unknown[] } | undefined;
      assert.equal(p?.big.length, big.length);
      assert.equal(p?.big, big);
      assert.deepStrictEqual(plain(p?.rows), rows);
      const result = makeResult(job.id, { output: { big } });
      await store.commit({ results: [result] });
      assert.equal(((await store.getResult(job.id))?.output as { big: string }).big, big);
    });

    t("deeply nested JSON (depth 400) round-trips", async ({ store }) => {
      const payload = deepNest(400);
      const job = makeJob({ payload });
      await store.commit({ insert: [job] });
      assert.deepStrictEqual(plain(await store.getJob(job.id))?.payload, plain(payload));
    });

    t("results round-trip: completed with output, failed with error, absent fields absent", async ({ store }) => {
      const a = makeJob();
      const b = makeJob();
      const c = makeJob();
      await store.commit({ insert: [a, b, c] });
      const completed = makeResult(a.id, { output: { answer: 42, tokens: ["a", "b"] }, attempts: 2, durationMs: 12.5 });
      const failed = makeResult(b.id, {
        status: "failed",
        output: undefined,
        error: { name: "WorkerCrashedError", message: "worker crashed: SIGKILL", code: "WORKER_CRASHED", stack: "at …" },
        attempts: 3,
      });
      delete (failed as { output?: unknown }).output;
      const cancelled = makeResult(c.id, { status: "cancelled", attempts: 0, startedAt: 5, endedAt: 5, durationMs: 0 });
      delete (cancelled as { output?: unknown }).output;
      const expected = [completed, failed, cancelled].map(plain);
      await store.commit({ results: [completed, failed, cancelled] });
      for (const e of expected) assert.deepStrictEqual(plain(await store.getResult(e.jobId)), e);
      const got = await store.getResult(b.id);
      assert.ok(got && !("output" in got), "absent output must stay absent");
      const got2 = await store.getResult(c.id);
      assert.ok(got2 && !("output" in got2) && !("error" in got2), "absent output/error must stay absent");
    });

    t("an update replaces the whole record (fields removed by the update are gone)", async ({ store }) => {
      const job = makeJob({ lastError: { name: "Error", message: "first try failed" }, timeoutMs: 5 });
      await store.commit({ insert: [job] });
      const next = bump(job, { status: "running", attempts: 1 });
      delete next.lastError;
      delete next.timeoutMs;
      await store.commit({ update: [{ job: next, expectedVersion: 0 }] });
      const got = await store.getJob(job.id);
      assert.deepStrictEqual(plain(got), plain(next));
      assert.ok(got && !("lastError" in got) && !("timeoutMs" in got), "removed optional fields must be gone");
    });

    t("mutating objects after passing them to commit does not change stored data", async ({ store }) => {
      const job = makeJob({ payload: { list: [1, 2, 3], inner: { a: "b" } } });
      const expected = plain(job);
      await store.commit({ insert: [job] });
      tryMutate(() => {
        job.status = "failed";
      });
      tryMutate(() => {
        (job.payload as { list: number[] }).list.push(4);
      });
      tryMutate(() => {
        (job.payload as { inner: { a: string } }).inner.a = "changed";
      });
      tryMutate(() => {
        job.backoff.baseMs = 1;
      });
      assert.deepStrictEqual(plain(await store.getJob(job.id)), expected);
      const result = makeResult(job.id, { output: { tokens: ["a"] } });
      const expectedResult = plain(result);
      await store.commit({ results: [result] });
      tryMutate(() => {
        (result.output as { tokens: string[] }).tokens.push("b");
      });
      tryMutate(() => {
        result.status = "failed";
      });
      assert.deepStrictEqual(plain(await store.getResult(job.id)), expectedResult);
    });

    t("mutating returned jobs, results and pages does not change stored data", async ({ store }) => {
      const job = makeJob({ payload: { list: [1, 2, 3] } });
      const result = makeResult(job.id, { output: { tokens: ["a"] } });
      const expectedJob = plain(job);
      const expectedResult = plain(result);
      await store.commit({ insert: [job], results: [result] });
      const got = (await store.getJob(job.id))!;
      tryMutate(() => {
        got.status = "cancelled";
      });
      tryMutate(() => {
        (got.payload as { list: number[] }).list.length = 0;
      });
      const page = await store.listJobs();
      tryMutate(() => {
        page.jobs[0]!.version = 99;
      });
      tryMutate(() => {
        page.jobs.length = 0;
      });
      const gotResult = (await store.getResult(job.id))!;
      tryMutate(() => {
        (gotResult.output as { tokens: string[] }).tokens[0] = "mutated";
      });
      assert.deepStrictEqual(plain(await store.getJob(job.id)), expectedJob);
      assert.deepStrictEqual(plain(await store.getResult(job.id)), expectedResult);
      assert.deepStrictEqual(plain((await store.listJobs()).jobs), [expectedJob]);
    });
  });
}
