/** Counters of one mode (or stage group) for the progress view. */
export interface ModeProgress {
  total: number;
  done: number;
  failed: number;
  retries: number;
}

/** What the progress view shows. */
export interface ProgressState {
  readonly modes: Record<string, ModeProgress>;
  /** Jobs finished in this run (for throughput). */
  finishedThisRun: number;
  readonly startedAt: number;
}

function bar(done: number, total: number, width: number): string {
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return `${"█".repeat(filled)}${"░".repeat(width - filled)}`;
}

/** One line per mode plus a totals line. */
export function renderProgress(state: ProgressState, now: number): string[] {
  const secs = Math.max((now - state.startedAt) / 1000, 0.001);
  const lines: string[] = [];
  let total = 0;
  let done = 0;
  for (const [mode, m] of Object.entries(state.modes)) {
    total += m.total;
    done += m.done;
    lines.push(
      `${mode.padEnd(8)} ${bar(m.done, m.total, 24)} ${String(m.done).padStart(5)}/${String(m.total).padEnd(5)}` +
        ` retries ${String(m.retries).padStart(3)}  failed ${String(m.failed).padStart(3)}`,
    );
  }
  lines.push(`total    ${done}/${total} done, ${(state.finishedThisRun / secs).toFixed(1)} jobs/s, ${secs.toFixed(1)} s`);
  return lines;
}

/** A single plain line, for output that is not a terminal. */
export function renderProgressLine(state: ProgressState, now: number): string {
  const parts = Object.entries(state.modes).map(([mode, m]) => `${mode} ${m.done}/${m.total} (retries ${m.retries}, failed ${m.failed})`);
  const secs = Math.max((now - state.startedAt) / 1000, 0.001);
  return `progress: ${parts.join(", ")}; ${(state.finishedThisRun / secs).toFixed(1)} jobs/s`;
}

/**
 * Redraws the block in place on a TTY (cursor up + clear line), or prints a plain line per tick
 * otherwise, so captured output stays readable.
 */
export class ProgressView {
  readonly #out: NodeJS.WriteStream;
  readonly #tty: boolean;
  #drawn = 0;

  constructor(out: NodeJS.WriteStream) {
    this.#out = out;
    this.#tty = out.isTTY === true;
  }

  /** Draws the current state. */
  draw(state: ProgressState): void {
    const now = Date.now();
    if (!this.#tty) {
      this.#out.write(`${renderProgressLine(state, now)}\n`);
      return;
    }
    const lines = renderProgress(state, now);
    const up = this.#drawn > 0 ? `\x1b[${this.#drawn}A` : "";
    this.#out.write(up + lines.map((l) => `\x1b[2K${l}\n`).join(""));
    this.#drawn = lines.length;
  }

  /** Forget the drawn block (so later output is not overwritten). */
  release(): void {
    this.#drawn = 0;
  }
}
