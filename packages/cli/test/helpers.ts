import { spawn, type ChildProcess } from "node:child_process";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { runCli, type CliIo } from "../src/index.js";

/** The built bin the tests run, as a user would (`node dist/bin.js`). */
export const BIN: string = fileURLToPath(new URL("../dist/bin.js", import.meta.url));
/** The handlers module fixture. */
export const HANDLERS: string = fileURLToPath(new URL("./fixtures/handlers.mjs", import.meta.url));

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Environment without the variables the CLI reads, so the host cannot leak into a test. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  if (!("PYREXIS_STORE" in extra)) delete env.PYREXIS_STORE;
  if (!("PYREXIS_HANDLERS" in extra)) delete env.PYREXIS_HANDLERS;
  return env;
}

const live = new Set<ChildProcess>();

/** Starts the bin. {@link killAll} (in afterAll) reaps any child a failed test left running. */
export function start(args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = cleanEnv()): ChildProcess {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env, stdio: ["pipe", "pipe", "pipe"] });
  live.add(child);
  child.on("exit", () => live.delete(child));
  return child;
}

/** Kills every child still running (SIGKILL: a test that failed must not leave workers behind). */
export function killAll(): void {
  for (const child of live) child.kill("SIGKILL");
  live.clear();
}

/** Collects a child's output and exit code. */
export function finish(child: ChildProcess, input?: string): Promise<RunResult> {
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr?.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  if (input !== undefined) child.stdin?.end(input);
  else child.stdin?.end();
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** Runs the bin to completion. */
export function pyrexis(
  args: readonly string[],
  cwd: string,
  options: { input?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
  return finish(start(args, cwd, options.env), options.input);
}

/** What an in-process run printed and returned. */
export interface Captured {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of {@link runInProcess}. */
export interface InProcessOptions {
  input?: string;
  env?: Record<string, string>;
  cwd: string;
}

/**
 * Runs `runCli` (the code the bin runs) in this process, capturing its output: for the many
 * input cases, where spawning a process per case would make the suites slow on 2 cores.
 */
export async function runInProcess(argv: string[], options: InProcessOptions): Promise<Captured> {
  let stdout = "";
  let stderr = "";
  const io: CliIo = {
    stdout: { write: (s: string) => (stdout += s), isTTY: false },
    stderr: { write: (s: string) => (stderr += s) },
    stdin: Readable.from(options.input === undefined ? [] : [options.input]),
    env: options.env ?? {},
    cwd: options.cwd,
  };
  const code = await runCli(argv, io);
  return { code, stdout, stderr };
}
