// Query timeouts for the store's statements. A connection that went half-open (a dead peer
// behind a NAT, a partition that swallows packets without a reset) never answers and never
// errors: without a timeout, a statement sent on it waits forever, and so does every store call
// behind it. node-postgres has a `query_timeout`, but after it fires the client stays busy with
// the unanswered query and goes back to the pool, so the next statement on it waits too. Here a
// statement that gets no answer in time rejects, every later statement on that client rejects at
// once, and the client is destroyed on release instead of being reused.
import type { PostgresClientLike, PostgresPoolLike, PostgresQueryResultLike } from "./postgres-like.js";

/** The message of a statement that got no answer in time (the store wraps it in `StoreFailureError`). */
class QueryTimeoutError extends Error {
  constructor(timeoutMs: number) {
    super(`no answer from PostgreSQL in ${timeoutMs} ms (the connection is discarded)`);
    this.name = "QueryTimeoutError";
  }
}

/** The client kysely's driver gets: the real one, with timed queries. */
class TimedClient {
  readonly #client: PostgresClientLike;
  readonly #timeoutMs: number;
  /** Set when a statement timed out: the connection may hold an unanswered query forever. */
  #broken: QueryTimeoutError | undefined;

  constructor(client: PostgresClientLike, timeoutMs: number) {
    this.#client = client;
    this.#timeoutMs = timeoutMs;
  }

  query<R>(sql: string, parameters?: readonly unknown[]): Promise<PostgresQueryResultLike<R>> {
    if (this.#broken) return Promise.reject(this.#broken);
    const answer = this.#client.query<R>(sql, parameters);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.#broken = new QueryTimeoutError(this.#timeoutMs);
        reject(this.#broken);
      }, this.#timeoutMs);
    });
    // A late answer (or error) of a timed-out statement is nobody's to handle.
    answer.catch(() => undefined);
    return Promise.race([answer, timeout]).finally(() => clearTimeout(timer));
  }

  release(destroy?: boolean | Error): void {
    this.#client.release(this.#broken ?? destroy);
  }
}

/**
 * A pool whose clients' statements time out after `timeoutMs` (see the file comment). `end`
 * ends the underlying pool only when `owned` (a pool the store made).
 */
export function timedPool(pool: PostgresPoolLike, timeoutMs: number, owned: boolean): PostgresPoolLike {
  return {
    connect: async () => new TimedClient(await pool.connect(), timeoutMs) as unknown as PostgresClientLike,
    end: () => (owned ? pool.end() : Promise.resolve()),
  };
}
