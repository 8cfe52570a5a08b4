import { closeSync, openSync, readSync } from "node:fs";
import { IncompatibleStoreError, StoreFailureError, isPyrexisError } from "@pyrexis/models";
import { KNOWN_MIGRATIONS, MIGRATION_TABLE } from "./schema.js";
import type { SqliteDatabaseLike } from "./sqlite-database-like.js";

/** What {@link inspectDatabase} found. */
export type DatabaseKind = "empty" | "pyrexis";

function isNotADatabase(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  const message = e instanceof Error ? e.message : "";
  return code === "SQLITE_NOTADB" || code === "SQLITE_CORRUPT" || /file is not a database/i.test(message);
}

/**
 * Decides, with reads only, whether the store may migrate this database: an empty database or
 * one made by this store (with no migration newer than this code knows). Anything else throws
 * {@link IncompatibleStoreError}, before a single byte of the file is written.
 */
export function inspectDatabase(db: SqliteDatabaseLike, where: string): DatabaseKind {
  try {
    const tables = db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
      .all()
      .map((r) => (r as { name: string }).name);
    if (tables.length === 0) return "empty";
    if (!tables.includes(MIGRATION_TABLE)) {
      const shown = tables.slice(0, 5).join(", ") + (tables.length > 5 ? ", …" : "");
      throw new IncompatibleStoreError(
        `${where} is not a Pyrexis store: it has tables (${shown}) but no ${MIGRATION_TABLE} table; refusing to touch it`,
      );
    }
    const applied = db
      .prepare(`SELECT name FROM ${MIGRATION_TABLE} ORDER BY name`)
      .all()
      .map((r) => (r as { name: string }).name);
    const unknown = applied.filter((name) => !KNOWN_MIGRATIONS.includes(name));
    if (unknown.length > 0) {
      throw new IncompatibleStoreError(
        `${where} has a newer schema than this @pyrexis/storage-sqlite knows (unknown migrations: ${unknown.join(", ")}); ` +
          "upgrade @pyrexis/storage-sqlite to open it",
      );
    }
    return "pyrexis";
  } catch (e) {
    if (isPyrexisError(e)) throw e;
    if (isNotADatabase(e)) {
      throw new IncompatibleStoreError(`${where} is not a SQLite database (file is not a database); refusing to touch it`, { cause: e });
    }
    throw new StoreFailureError(`cannot inspect ${where}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
}

const SQLITE_MAGIC = Buffer.from("SQLite format 3\0", "latin1");

/**
 * Throws {@link IncompatibleStoreError} unless the non-empty file at `path` starts with the
 * 16-byte SQLite header. SQLite itself reads a file shorter than its header as an empty
 * database, which would let `open()` turn someone's small file into a store.
 */
export function assertSqliteHeader(path: string): void {
  const head = Buffer.alloc(SQLITE_MAGIC.length);
  let read: number;
  const fd = openSync(path, "r");
  try {
    read = readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  if (read < head.length || !head.equals(SQLITE_MAGIC)) {
    throw new IncompatibleStoreError(`${path} is not a SQLite database (no SQLite header); refusing to touch it`);
  }
}
