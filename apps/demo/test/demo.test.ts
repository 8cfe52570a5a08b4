import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { tempDir, waitFor } from "@pyrexis/test-utils";

const MAIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));
const children = new Set<ChildProcess>();
const tmp = tempDir("pyrexis-demo-");

afterAll(() => {
  for (const c of children) c.kill("SIGKILL");
  tmp.remove();
});

interface Run {
  child: ChildProcess;
  done: Promise<{ code: number | null; stdout: string; stderr: string }>;
  stdout(): string;
}

function demo(args: string[]): Run {
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => {
      children.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
  return { child, done, stdout: () => stdout };
}

/** The summary's status table as numbers. */
function statusCounts(out: string): Record<string, number> {
  const section = out.slice(out.indexOf("\nsummary\n"));
  const counts: Record<string, number> = {};
  for (const m of section.matchAll(/^(completed|failed|cancelled|pending|retrying|running)\s+(\d+)$/gm)) counts[m[1]!] = Number(m[2]);
  return counts;
}

describe("demo", () => {
  it("runs a small batch to the end: every job completed or failed, counts add up, latency table shown", async () => {
    const r = await demo(["--size", "30", "--store", tmp.file("small.db"), "--seed", "7"]).done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("new batch: 30 documents (seed 7)");
    expect(r.stdout).not.toContain("\x1b"); // not a TTY: plain progress lines
    expect(r.stdout).toMatch(/^progress: async \d+\/\d+ \(retries \d+, failed \d+\), thread/m);
    const counts = statusCounts(r.stdout);
    expect((counts.completed ?? 0) + (counts.failed ?? 0)).toBe(30);
    expect(Object.keys(counts).every((s) => s === "completed" || s === "failed")).toBe(true);
    expect(r.stdout).toMatch(/^total 30 jobs; this run finished 30 in /m);
    expect(r.stdout).toMatch(/^job\.execution\s+\d+\s+[\d.]+ m?s/m);
    expect(r.stdout).toMatch(/^job\.queue_wait\s+\d+/m);
    // analyze jobs went through the model API's token budget, and charged what they used.
    expect(r.stdout).toMatch(/^flow\.wait\s+\d+/m);
    expect(r.stdout).toMatch(/^model API budget: 20,000 tokens\/s, 16 calls at once; this run charged [1-9][\d,]* tokens/m);
    expect(r.stdout).toMatch(/^analyze\/model\s+\d+/m);
  });

  it("Ctrl-C shuts down gracefully (exit 130); the next run resumes the unfinished jobs and finishes the batch", async () => {
    const store = tmp.file("resume.db");
    const first = demo(["--size", "80", "--store", store]);
    // Interrupt right after the first progress output.
    await waitFor(
      "the demo's first progress output",
      () => {
        if (first.stdout().includes("progress: ")) return true;
        if (first.child.exitCode !== null) throw new Error("demo exited before its first progress output");
        return false;
      },
      { timeoutMs: 50_000 },
    );
    first.child.kill("SIGINT");
    const r1 = await first.done;
    expect(r1.code, r1.stderr).toBe(130);
    expect(r1.stdout).toContain("SIGINT: shutting down gracefully");
    const m = /shut down gracefully: (\d+)\/80 jobs finished, (\d+) left; run again to resume/.exec(r1.stdout);
    expect(m, r1.stdout).not.toBeNull();
    const left = Number(m![2]);
    expect(left).toBeGreaterThan(0);

    const r2 = await demo(["--store", store]).done;
    expect(r2.code, r2.stderr).toBe(0);
    expect(r2.stdout).toContain(`resuming: ${left} jobs left from a previous run`);
    expect(r2.stdout).not.toContain("new batch");
    const counts = statusCounts(r2.stdout);
    expect((counts.completed ?? 0) + (counts.failed ?? 0)).toBe(80);
    expect(r2.stdout).toMatch(/^total 80 jobs; /m);

    // A third run has nothing left; --fresh starts over.
    const r3 = await demo(["--store", store]).done;
    expect(r3.stdout).toContain("nothing to do: the batch");
    expect(r3.code).toBe(0);
  });

  it("a bad flag is one line on stderr and exit code 2", async () => {
    const r = await demo(["--size", "lots"]).done;
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^demo: error: --size must be an integer 1–100000, got "lots"\n/);
    const u = await demo(["--frobnicate"]).done;
    expect(u.code).toBe(2);
    expect(u.stderr).toMatch(/^demo: error: Unknown option '--frobnicate'/);
  });
});
