// Temp directories for tests: real files (SQLite databases, JSON stores, run logs) that must not
// outlive the test that made them, even when it fails before its own cleanup line.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TestRunner, onTestFinished } from "vitest";

/** A fresh directory under the OS temp dir. */
export interface TempDir {
  /** Absolute path of the directory. */
  readonly dir: string;
  /** Path of `segments` inside the directory (nothing is created). */
  file(...segments: string[]): string;
  /** Removes the directory and everything in it; idempotent. */
  remove(): void;
}

// Directories not yet removed, for the exit-time safety net.
const live = new Set<string>();
let exitHookInstalled = false;

function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  live.delete(dir);
}

/**
 * Creates a fresh temp directory. Called while a test runs (in the test or in a `beforeEach` /
 * `afterEach` hook), it is removed when that test finishes, passed or failed; called anywhere
 * else (file level, `beforeAll`), remove it yourself with {@link TempDir.remove} (e.g. in
 * `afterAll`). Whatever is left when the process exits is removed then.
 *
 * @param prefix - start of the directory's name, to tell whose files a leftover holds.
 * @example
 * ```ts
 * it("persists across reopen", async () => {
 *   const tmp = tempDir("pyrexis-sqlite-");
 *   const store = await SqliteJobStore.open({ path: tmp.file("jobs.db") });
 *   // …; the directory is gone after the test
 * });
 * ```
 */
export function tempDir(prefix = "pyrexis-test-"): TempDir {
  if (typeof prefix !== "string" || /[/\\]/.test(prefix))
    throw new TypeError(`tempDir: prefix must be a name without slashes, got ${String(prefix)}`);
  const dir = mkdtempSync(join(tmpdir(), prefix));
  live.add(dir);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once("exit", () => {
      for (const d of live) rmSync(d, { recursive: true, force: true });
    });
  }
  const handle: TempDir = {
    dir,
    file: (...segments) => join(dir, ...segments),
    remove: () => removeDir(dir),
  };
  if (TestRunner.getCurrentTest() !== undefined) onTestFinished(() => handle.remove());
  return handle;
}
