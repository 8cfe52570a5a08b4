/**
 * The slice of a better-sqlite3 `Database` this store uses. Declared here so better-sqlite3's
 * types never leak into the public API (as kysely does with its `SqliteDatabase`): any object with
 * these members works, and a `better-sqlite3` `Database` has them all.
 */
export interface SqliteDatabaseLike {
  /** Compiles one SQL statement; the store prepares its hot-path statements once. */
  prepare(sql: string): SqliteStatementLike;
  /** Runs SQL text that may hold several statements (no parameters). */
  exec(sql: string): unknown;
  /** Wraps `fn` in a transaction; the store calls `.immediate()` so writers queue on the lock. */
  transaction(fn: () => void): SqliteTransactionLike;
  /** Closes the connection. */
  close(): unknown;
}

/** A prepared statement (better-sqlite3 `Statement`). */
export interface SqliteStatementLike {
  /** True when the statement returns rows. */
  readonly reader: boolean;
  run(...params: unknown[]): { changes: number | bigint; lastInsertRowid: number | bigint };
  get(...params: unknown[]): unknown;
  all(...params: unknown[]): unknown[];
  iterate(...params: unknown[]): IterableIterator<unknown>;
}

/** A transaction function (better-sqlite3 `Transaction`). */
export interface SqliteTransactionLike {
  /** Runs the function inside `BEGIN IMMEDIATE … COMMIT`, rolling back if it throws. */
  immediate(): void;
}
