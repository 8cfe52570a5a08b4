import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "@pyrexis/test-utils";
import { finish, HANDLERS, killAll, pyrexis, start, type RunResult } from "./helpers.js";

// `pyrexis list | head -2`: the reader of stdout goes away. Like standard tools the command stops
// writing and exits quietly (no EPIPE stack trace); worker and monitor, which write until stopped,
// stop as on SIGTERM. The read end is closed before the child starts writing, so the first write
// fails with EPIPE however fast the machine is.

const tmp = tempDir("pyrexis-cli-pipe-");
const dir = tmp.dir;
const db = tmp.file("jobs.db");

beforeAll(async () => {
  const r = await pyrexis(["submit", "echo", "1", "--id", "first", "--store", db], dir);
  expect(r.code, r.stderr).toBe(0);
});
afterAll(() => {
  killAll();
  tmp.remove();
});

/** Runs the bin with its stdout's reader already gone. */
function withClosedStdout(args: readonly string[]): Promise<RunResult> {
  const child = start(args, dir);
  child.stdout?.destroy();
  return finish(child);
}

describe.concurrent("a closed stdout", () => {
  it.each(["list", "list --json", "status first", "metrics", "metrics --prometheus", "--help"])(
    "pyrexis %s exits 0 without a word on stderr",
    async (command) => {
      const args = command.split(" ");
      const r = await withClosedStdout(args[0] === "--help" ? args : [...args, "--store", db]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
    },
  );

  it("stops the monitor's frame loop (it would redraw forever)", async () => {
    const r = await withClosedStdout(["monitor", "--interval", "50", "--store", db]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  it("shuts a worker down gracefully, as SIGTERM would", async () => {
    const r = await withClosedStdout(["worker", "--store", db, "--handlers", HANDLERS]);
    expect(r.stderr).toBe("pyrexis: shut down gracefully after stdout was closed\n");
    expect(r.code).toBe(0);
  });
});
