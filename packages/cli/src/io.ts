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
  /**
   * Aborted when the reader of stdout went away (a closed pipe, as in `pyrexis monitor | head`).
   * Commands that write until stopped (`worker`, `monitor`) then stop as on SIGTERM.
   */
  readonly outputClosed?: AbortSignal;
}

/** A write end that goes quiet instead of crashing once its reader has closed the pipe. */
function pipeSafe(stream: NodeJS.WriteStream, onClosed: () => void): { write: (chunk: string) => boolean } {
  let open = true;
  stream.on("error", (error: NodeJS.ErrnoException) => {
    // Like standard tools: a reader that stopped reading (`| head`) is not an error of ours.
    if (error.code === "EPIPE") {
      open = false;
      onClosed();
      return;
    }
    throw error;
  });
  return { write: (chunk) => open && stream.write(chunk) };
}

let shared: CliIo | undefined;

/**
 * The real process streams, environment and working directory. Writes to a stdout or stderr whose
 * reader closed the pipe are dropped (no EPIPE stack trace), and `outputClosed` aborts.
 */
export function processIo(): CliIo {
  // One set of stream listeners per process, however many times runCli is called.
  if (shared) return { ...shared, env: process.env, cwd: process.cwd() };
  const closed = new AbortController();
  const out = pipeSafe(process.stdout, () => closed.abort());
  const err = pipeSafe(process.stderr, () => {});
  shared = {
    stdout: {
      write: out.write,
      get isTTY() {
        return process.stdout.isTTY;
      },
      get columns() {
        return process.stdout.columns;
      },
    },
    stderr: err,
    stdin: process.stdin,
    env: process.env,
    cwd: process.cwd(),
    outputClosed: closed.signal,
  };
  return shared;
}
