import { dirname, isAbsolute, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { ValidationError } from "@pyrexis/models";

/** The demo's settings, from its flags. */
export interface DemoArgs {
  readonly size: number;
  readonly concurrency: Readonly<Record<"async" | "thread" | "process", number>>;
  readonly store: string;
  readonly fresh: boolean;
  readonly seed: number;
  readonly help: boolean;
}

/** Default database: `apps/demo/.data/demo.db` (gitignored). */
export const DEFAULT_STORE: string = resolve(dirname(fileURLToPath(import.meta.url)), "..", ".data", "demo.db");

/** The `--help` text. */
export const USAGE = `Usage: pnpm demo [options]   (from the repository root; builds first. Or: node apps/demo/dist/main.js [options])

A batch of AI-inference jobs on the embedded SQLite store, with live progress.

Options:
  --size <n>           documents (jobs) in the batch (default 300)
  --concurrency <spec> async=32,thread=2,process=2 (default), any subset, or one number for async
  --store <path>       SQLite database (default apps/demo/.data/demo.db)
  --fresh              delete the database and start a new batch
  --seed <n>           seed of the documents, latencies and failures (default 42)
  -h, --help           show this help

Ctrl-C shuts down gracefully (a second Ctrl-C forces); run again to resume the batch.
Exit codes: 0 finished, 130 interrupted (resumable), 1 error, 2 bad flags.`;

function int(name: string, raw: string, min: number, max: number): number {
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < min || n > max) throw new ValidationError(`--${name} must be an integer ${min}–${max}, got "${raw}"`);
  return n;
}

/**
 * Parses the flags; a bad one throws `ValidationError` (exit code 2). A leading `--` is skipped:
 * `pnpm demo -- --fresh` and `pnpm --filter @pyrexis/demo start -- --fresh` pass it through.
 */
export function parseDemoArgs(argv: readonly string[]): DemoArgs {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv[0] === "--" ? argv.slice(1) : [...argv],
      options: {
        size: { type: "string" },
        concurrency: { type: "string" },
        store: { type: "string" },
        fresh: { type: "boolean" },
        seed: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    throw new ValidationError((e as Error).message);
  }
  const concurrency = { async: 32, thread: 2, process: 2 };
  if (values.concurrency !== undefined) {
    if (/^\d+$/.test(values.concurrency)) concurrency.async = int("concurrency", values.concurrency, 1, 10_000);
    else {
      for (const part of values.concurrency.split(",")) {
        const [mode, n] = part.split("=");
        if (mode !== "async" && mode !== "thread" && mode !== "process") {
          throw new ValidationError(`--concurrency: expected async=N,thread=N,process=N, got "${part}"`);
        }
        concurrency[mode] = int(`concurrency ${mode}`, n ?? "", 1, 10_000);
      }
    }
  }
  return {
    size: values.size === undefined ? 300 : int("size", values.size, 1, 100_000),
    concurrency,
    store: values.store === undefined ? DEFAULT_STORE : resolve(values.store),
    fresh: values.fresh === true,
    seed: values.seed === undefined ? 42 : int("seed", values.seed, 0, 2 ** 31 - 1),
    help: values.help === true,
  };
}

/**
 * `path` as the user would type it from `cwd`: relative when it lies inside, else absolute. Printed
 * paths then work in the hints as they are, and captured output names no machine's directories.
 */
export function shownPath(path: string, cwd: string = process.cwd()): string {
  const rel = relative(cwd, path);
  return rel !== "" && !rel.startsWith("..") && !isAbsolute(rel) ? rel : path;
}
