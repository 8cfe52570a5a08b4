// The slices of node-postgres this store uses, declared here so `pg`'s types never appear in
// the package's public API (as `SqliteDatabaseLike` does for better-sqlite3): a `pg.Pool` and
// its clients have every member below, and so may any other pool that speaks the same shape.

/** The result of one query (a `pg` `QueryResult`). */
export interface PostgresQueryResultLike<R = Record<string, unknown>> {
  readonly rows: R[];
  readonly rowCount: number | null;
}

/** A `NOTIFY` delivered to a listening client (a `pg` `Notification`). */
export interface PostgresNotificationLike {
  readonly channel: string;
  readonly payload?: string | undefined;
}

/** A client checked out of a pool (a `pg` `PoolClient`). */
export interface PostgresClientLike {
  query<R = Record<string, unknown>>(sql: string, parameters?: readonly unknown[]): Promise<PostgresQueryResultLike<R>>;
  /** Gives the client back to its pool; `true` (or an error) destroys the connection instead. */
  release(destroy?: boolean | Error): void;
  on(event: "notification", listener: (message: PostgresNotificationLike) => void): unknown;
  on(event: "error", listener: (error: Error) => void): unknown;
  on(event: "end", listener: () => void): unknown;
  removeListener(event: "notification", listener: (message: PostgresNotificationLike) => void): unknown;
  removeListener(event: "error", listener: (error: Error) => void): unknown;
  removeListener(event: "end", listener: () => void): unknown;
}

/** A connection pool (a `pg` `Pool`). */
export interface PostgresPoolLike {
  connect(): Promise<PostgresClientLike>;
  end(): Promise<void>;
}
