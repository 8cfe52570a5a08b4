/** Where a CLI run reads and writes. `runCli` takes one so tests can run commands in-process. */
export interface CliIo {
  /** Standard output (tables, ids, JSON). `isTTY` switches the monitor to its live view. */
  readonly stdout: { write(chunk: string): unknown; readonly isTTY?: boolean; readonly columns?: number };
  /** Standard error: the one-line `pyrexis: error: …` messages and worker notices. */
  readonly stderr: { write(chunk: string): unknown };
  /** Standard input: `submit --file -` reads it; the TTY monitor reads keys from it. */
  readonly stdin: NodeJS.ReadableStream & { readonly isTTY?: boolean; setRawMode?(mode: boolean): unknown };
  /** Environment variables (`PYREXIS_STORE`, `PYREXIS_HANDLERS`). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Directory relative paths are resolved against. */
  readonly cwd: string;
}

/** The real process streams, environment and working directory. */
export function processIo(): CliIo {
  return { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env, cwd: process.cwd() };
}
