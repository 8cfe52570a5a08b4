import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { SqliteJobStore } from "../src/index.js";
import { tempDir } from "@pyrexis/test-utils";

const fixture = fileURLToPath(new URL("./fixtures/commit-stream.mjs", import.meta.url));
const dist = fileURLToPath(new URL("../dist/index.js", import.meta.url));
const JOBS_PER_BATCH = 20;

/** Runs the fixture until it has reported `killAfter` committed batches, then SIGKILLs it. */
function runAndKill(path: string, killAfter: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fixture, path, String(JOBS_PER_BATCH)], { stdio: ["ignore", "pipe", "pipe"] });
    const reported: number[] = [];
    let buffered = "";
    let stderr = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split("\n");
      buffered = lines.pop()!;
      for (const line of lines) reported.push(Number(line));
      if (reported.length >= killAfter && child.exitCode === null && !child.killed) child.kill("SIGKILL");
    });
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      if (signal === "SIGKILL") resolve(reported);
      else reject(new Error(`fixture exited on its own (code ${code}): ${stderr}`));
    });
  });
}

describe("crash safety", () => {
  beforeAll(() => {
    if (!existsSync(dist)) throw new Error(`${dist} is missing: run \`pnpm --filter @pyrexis/storage-sqlite build\` first`);
  });

  it("a process SIGKILLed mid-stream loses no reported batch and leaves no partial batch", { timeout: 30_000 }, async () => {
    const path = tempDir("pyrexis-sqlite-").file("crash.db");
    const reported = await runAndKill(path, 40);
    expect(reported.length).toBeGreaterThanOrEqual(40);
    expect(reported).toEqual(reported.map((_, i) => i));

    const store = await SqliteJobStore.open({ path });
    try {
      const last = reported[reported.length - 1]!;
      // Batches after `last` may or may not have committed before the kill, but never in part.
      for (let i = 0; i <= last + 2; i++) {
        const jobs = await Promise.all(Array.from({ length: JOBS_PER_BATCH }, (_, k) => store.getJob(`b${i}-${k}`)));
        const present = jobs.filter((j) => j !== undefined);
        if (i <= last) expect(present, `batch ${i} was reported committed`).toHaveLength(JOBS_PER_BATCH);
        else expect([0, JOBS_PER_BATCH], `batch ${i} is all or nothing`).toContain(present.length);
        for (const j of present) expect(j.payload).toMatchObject({ batch: i });
        // Batch i+1 moved batch i to running in the same transaction: all of them or none.
        expect(new Set(present.map((j) => j.status)).size, `batch ${i} statuses`).toBeLessThanOrEqual(1);
      }
      const total = (await store.listJobs({ limit: 10_000 })).jobs.length;
      expect(total % JOBS_PER_BATCH).toBe(0);
      expect(store.corruptRecords).toEqual([]);
      // The store is writable again after the crash.
      await store.commit({ insert: [{ ...(await store.getJob("b0-0"))!, id: "after-crash", version: 0 }] });
    } finally {
      await store.close();
    }
  });
});
