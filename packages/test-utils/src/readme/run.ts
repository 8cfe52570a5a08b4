// Runs one compiled example the way a reader would (`node main.js`), in its own process group so
// that a hung example and every worker it started can be killed together.
import { spawn } from "node:child_process";

/** How a run ended and what it printed. */
export interface ExampleOutput {
  /** Exit code; `null` when it was killed by a signal. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** True when it was killed for running past the time bound. */
  readonly timedOut: boolean;
  readonly stdout: string;
  readonly stderr: string;
}

/** Where and how long {@link runExample} runs. */
export interface RunOptions {
  /** Working directory (files an example creates, like `./jobs.db`, land here). */
  readonly cwd: string;
  /** Bound on the run in milliseconds; past it the process group is killed. */
  readonly timeoutMs: number;
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, "SIGKILL");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
  }
}

// The test runner's settings must not reach the example (a user's shell has none of them).
function exampleEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key === "NODE_OPTIONS" || key.startsWith("VITEST") || key === "TEST" || key === "NODE_ENV") continue;
    env[key] = value;
  }
  return env;
}

/**
 * Runs `node <file>` and resolves when it exits (never rejects for a failing example: the
 * caller decides). Whatever the example left running in its process group is killed after.
 */
export function runExample(file: string, options: RunOptions): Promise<ExampleOutput> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file], {
      cwd: options.cwd,
      env: exampleEnv(),
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child.pid);
    }, options.timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      killGroup(child.pid);
      resolve({ code, signal, timedOut, stdout, stderr });
    });
  });
}
