import { stat } from "node:fs/promises";
import { isAbsolute, resolve } from "node:path";
import { IncompatibleStoreError } from "@pyrexis/models";
import { SqliteJobStore } from "@pyrexis/storage-sqlite";
import { StoreMissingError, UsageError } from "./errors.js";
import type { CliIo } from "./io.js";

/** The store path when neither `--store` nor `PYREXIS_STORE` is given. */
export const DEFAULT_STORE = "./pyrexis.db";

/** Resolves the store location: the flag wins over `PYREXIS_STORE`, then {@link DEFAULT_STORE}. */
export function resolveStorePath(flag: string | undefined, io: CliIo): string {
  const given = flag ?? io.env.PYREXIS_STORE ?? DEFAULT_STORE;
  if (given === "") throw new UsageError("--store must not be empty");
  if (given === "memory" || given === ":memory:") {
    // Every command is its own process: an in-memory store would be gone when it exits.
    throw new UsageError(`--store ${given}: an in-memory store does not outlive this command; give a database file path`);
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

/**
 * Checks that `path` is an existing, non-empty file, without creating anything. An empty file
 * would be turned into a new store by `SqliteJobStore.open`, which a read command must not do.
 */
export async function assertStoreFile(path: string): Promise<void> {
  let info;
  try {
    info = await stat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") throw new StoreMissingError(path);
    throw new IncompatibleStoreError(`cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  if (!info.isFile()) throw new IncompatibleStoreError(`${path} is not a file`);
  if (info.size === 0) throw new IncompatibleStoreError(`${path} is an empty file, not a Pyrexis database`);
}

/**
 * Opens an EXISTING store for the read commands (status, list, cancel, metrics, monitor) and the
 * worker. A missing file is refused before SQLite is touched; a foreign, garbage or newer
 * database is refused by `SqliteJobStore.open` with `IncompatibleStoreError`, unmodified.
 */
export async function openExistingStore(path: string): Promise<SqliteJobStore> {
  await assertStoreFile(path);
  return SqliteJobStore.open({ path });
}

/** Opens the store for `submit`, creating the database file when it does not exist. */
export async function openOrCreateStore(path: string): Promise<SqliteJobStore> {
  return SqliteJobStore.open({ path });
}

/** Runs `fn` with an open store and always closes it. */
export async function withStore<T>(open: Promise<SqliteJobStore>, fn: (store: SqliteJobStore) => Promise<T>): Promise<T> {
  const store = await open;
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}
