import { stat } from "node:fs/promises";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { IncompatibleStoreError, StoreFailureError } from "@pyrexis/models";
import type { JobStore } from "@pyrexis/storage";
import { SqliteJobStore } from "@pyrexis/storage-sqlite";
import { StoreMissingError, UsageError } from "./errors.js";
import type { CliIo } from "./io.js";

/** The store path when neither `--store` nor `PYREXIS_STORE` is given. */
export const DEFAULT_STORE = "./pyrexis.db";

/** True for a `postgres://` or `postgresql://` URL: the store is then a PostgreSQL database. */
export function isPostgresUrl(location: string): boolean {
  return /^postgres(?:ql)?:\/\//.test(location);
}

/**
 * Resolves the store location: the flag wins over `PYREXIS_STORE`, then {@link DEFAULT_STORE}.
 * A `postgres://` URL is kept as it is; a file path is made absolute.
 */
export function resolveStorePath(flag: string | undefined, io: CliIo): string {
  const given = flag ?? io.env.PYREXIS_STORE ?? DEFAULT_STORE;
  if (given === "") throw new UsageError("--store must not be empty");
  if (isPostgresUrl(given)) return given;
  if (given === "memory" || given === ":memory:") {
    // Every command is its own process: an in-memory store would be gone when it exits.
    throw new UsageError(
      `--store ${given}: an in-memory store does not outlive this command; give a database file path or a postgres:// URL`,
    );
  }
  return isAbsolute(given) ? given : resolve(io.cwd, given);
}

/** Resolves the handlers module path: the flag wins over `PYREXIS_HANDLERS`; `undefined` when neither. */
export function resolveHandlersPath(flag: string | undefined, io: CliIo): string | undefined {
  const given = flag ?? io.env.PYREXIS_HANDLERS;
  if (given === undefined) return undefined;
  if (given === "") throw new UsageError("--handlers must not be empty");
  return isAbsolute(given) || /^file:/.test(given) ? given : resolve(io.cwd, given);
}

/** What a store path holds: nothing yet, an empty file (SQLite's empty database), or a file with data. */
type StorePathState = "missing" | "empty" | "file";

/**
 * Looks at `path` without creating anything. A directory or another non-file is refused here, the
 * same way for every command, instead of as a raw `EISDIR` from SQLite.
 */
async function inspectStorePath(path: string): Promise<StorePathState> {
  let info;
  try {
    info = await stat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return "missing";
    throw new IncompatibleStoreError(`cannot use ${path} as the store: ${(e as Error).message}`, { cause: e });
  }
  if (info.isDirectory()) {
    throw new IncompatibleStoreError(
      `${path} is a directory, not a database file (give a file path, e.g. --store ${join(path, "pyrexis.db")})`,
    );
  }
  if (!info.isFile()) throw new IncompatibleStoreError(`${path} is not a regular file, so it cannot be a database`);
  return info.size === 0 ? "empty" : "file";
}

/**
 * Checks that `path` holds a database, without creating anything. A missing or empty file is "no
 * database yet" ({@link StoreMissingError}): `submit` creates the database in either case, so a
 * read command refuses both alike rather than open (and so initialize) an empty file.
 */
export async function assertStoreFile(path: string): Promise<void> {
  // A database server is checked by opening it (an unreachable one is a StoreFailureError).
  if (isPostgresUrl(path)) return;
  const state = await inspectStorePath(path);
  if (state === "missing") throw new StoreMissingError(path);
  if (state === "empty") throw new StoreMissingError(path, "empty file");
}

/**
 * Opens an EXISTING store for the read commands (status, list, cancel, metrics, monitor) and the
 * worker. A missing file is refused before SQLite is touched; a foreign, garbage or newer
 * database is refused by `SqliteJobStore.open` with `IncompatibleStoreError`, unmodified.
 */
export async function openExistingStore(path: string): Promise<JobStore> {
  if (isPostgresUrl(path)) return openPostgres(path);
  await assertStoreFile(path);
  return SqliteJobStore.open({ path });
}

/**
 * Opens the store for `submit`, creating the database when the file is missing or empty. Its
 * directory must exist: a typo in a path should not leave a tree of new directories behind.
 */
export async function openOrCreateStore(path: string): Promise<JobStore> {
  if (isPostgresUrl(path)) return openPostgres(path);
  if ((await inspectStorePath(path)) === "missing") {
    const parent = dirname(path);
    const info = await stat(parent).catch(() => undefined);
    if (!info?.isDirectory()) throw new StoreFailureError(`cannot create a database at ${path}: the directory ${parent} does not exist`);
  }
  return SqliteJobStore.open({ path });
}

/**
 * Opens a PostgreSQL store (its schema from the URL's `schema` parameter, else `pyrexis`; created
 * when missing). Loaded on demand, so the SQLite commands never load `pg`.
 */
async function openPostgres(url: string): Promise<JobStore> {
  const { PostgresJobStore } = await import("@pyrexis/storage-postgres");
  return PostgresJobStore.open({ connectionString: url });
}

/** Runs `fn` with an open store and always closes it. */
export async function withStore<T>(open: Promise<JobStore>, fn: (store: JobStore) => Promise<T>): Promise<T> {
  const store = await open;
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}
