import { quoteIdent } from "./migrations.js";
import type { PostgresClientLike, PostgresNotificationLike, PostgresPoolLike } from "./postgres-like.js";

// One dedicated LISTEN connection per store instance. PostgreSQL delivers a NOTIFY only to
// connections listening at commit time, and says nothing when a connection silently dies (a
// half-open TCP connection after a failover or a NAT timeout looks idle forever). So the
// listener checks its own connection with a heartbeat (`SELECT 1` with a deadline) and replaces
// it on any error, end or missed heartbeat; after each replacement it reports a change, since
// notifications may have been missed while it was away (false alarms are allowed, misses not).

/** Options of {@link ChangeListener}. */
export interface ChangeListenerOptions {
  /** Interval of the heartbeat query. */
  readonly heartbeatMs: number;
  /** How long a heartbeat may take before the connection counts as dead. */
  readonly heartbeatTimeoutMs: number;
  /** Shown in `pg_stat_activity.application_name` of the listening connection. */
  readonly applicationName: string;
  /** Called on every notification of the channel, and after every (re)connection. */
  readonly onChange: () => void;
  /** Called with each connection failure (for diagnostics); the listener then reconnects. */
  readonly onError?: ((error: Error) => void) | undefined;
}

/** A LISTEN connection that keeps itself alive. */
export class ChangeListener {
  readonly #pool: PostgresPoolLike;
  readonly #channel: string;
  readonly #options: ChangeListenerOptions;
  #client: PostgresClientLike | undefined;
  #detach: (() => void) | undefined;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #retry: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  #connecting: Promise<void> | undefined;
  #failures = 0;
  /** Times a connection was replaced (for tests and diagnostics). */
  replacements = 0;

  constructor(pool: PostgresPoolLike, channel: string, options: ChangeListenerOptions) {
    this.#pool = pool;
    this.#channel = channel;
    this.#options = options;
  }

  /** Connects and starts listening; rejects when the first connection fails. */
  async start(): Promise<void> {
    await this.#connect();
    this.#heartbeat = setInterval(() => void this.check(), this.#options.heartbeatMs);
    this.#heartbeat.unref();
  }

  async #connect(): Promise<void> {
    const client = await this.#pool.connect();
    const onNotification = (message: PostgresNotificationLike): void => {
      if (message.channel === this.#channel) this.#options.onChange();
    };
    const onError = (error: Error): void => this.#lost(client, error);
    const onEnd = (): void => this.#lost(client, new Error("listener connection ended"));
    client.on("notification", onNotification);
    client.on("error", onError);
    client.on("end", onEnd);
    const detach = (): void => {
      client.removeListener("notification", onNotification);
      client.removeListener("end", onEnd);
      // The error handler stays: a client may still emit an error after it was given up.
    };
    try {
      await client.query("SELECT set_config('application_name', $1, false)", [this.#options.applicationName]);
      await client.query(`LISTEN ${quoteIdent(this.#channel)}`);
    } catch (e) {
      detach();
      client.release(true);
      throw e;
    }
    if (this.#closed) {
      detach();
      client.release(true);
      return;
    }
    this.#client = client;
    this.#detach = detach;
    this.#failures = 0;
    this.#options.onChange();
  }

  /**
   * Runs one heartbeat now: a `SELECT 1` on the listening connection that must answer within
   * the timeout, else the connection is replaced. Resolves true when the connection answered.
   */
  async check(): Promise<boolean> {
    const client = this.#client;
    if (client === undefined || this.#closed) return false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`listener heartbeat got no answer in ${this.#options.heartbeatTimeoutMs} ms`)),
        this.#options.heartbeatTimeoutMs,
      );
      timer.unref();
    });
    try {
      await Promise.race([client.query("SELECT 1"), deadline]);
      return true;
    } catch (e) {
      this.#lost(client, e instanceof Error ? e : new Error(String(e)));
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Gives up `client` (once) and connects a new one, retrying with backoff. */
  #lost(client: PostgresClientLike, error: Error): void {
    if (this.#client !== client) return;
    this.#client = undefined;
    this.#detach?.();
    this.#detach = undefined;
    try {
      client.release(error);
    } catch {
      // Already released by the pool: nothing left to free.
    }
    this.#options.onError?.(error);
    this.#reconnect();
  }

  #reconnect(): void {
    if (this.#closed || this.#connecting !== undefined || this.#retry !== undefined) return;
    this.#connecting = this.#connect()
      .then(() => {
        this.replacements++;
      })
      .catch((e: unknown) => {
        this.#failures++;
        this.#options.onError?.(e instanceof Error ? e : new Error(String(e)));
        // Backoff up to 5 s between attempts while the database is away.
        const delay = Math.min(5000, 50 * 2 ** Math.min(this.#failures, 7));
        this.#retry = setTimeout(() => {
          this.#retry = undefined;
          this.#reconnect();
        }, delay);
        this.#retry.unref();
      })
      .finally(() => {
        this.#connecting = undefined;
      });
  }

  /** True while a connection is listening. */
  get listening(): boolean {
    return this.#client !== undefined;
  }

  /** Stops listening and gives the connection up (destroyed, so no LISTEN state returns to a pool). */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#heartbeat);
    clearTimeout(this.#retry);
    await this.#connecting?.catch(() => undefined);
    const client = this.#client;
    this.#client = undefined;
    this.#detach?.();
    if (client !== undefined) client.release(true);
  }
}
