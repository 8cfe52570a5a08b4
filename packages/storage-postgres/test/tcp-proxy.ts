import { createServer, connect, type AddressInfo, type Server, type Socket } from "node:net";

interface Pair {
  readonly client: Socket;
  readonly upstream: Socket;
}

/**
 * A TCP proxy on 127.0.0.1 in front of the test database, which a test can use to make the
 * connections through it half-open: {@link freeze} stops forwarding on every open connection
 * without closing anything (what a dead peer behind a NAT looks like), while new connections
 * still work.
 */
export class TcpProxy {
  readonly #server: Server;
  /** Connections forwarding now (the server's handler adds to it). */
  readonly #live: Set<Pair>;
  /** Connections {@link freeze} silenced; kept so {@link close} destroys them. */
  readonly #frozen = new Set<Pair>();

  private constructor(server: Server, live: Set<Pair>) {
    this.#server = server;
    this.#live = live;
  }

  /** Starts a proxy to `host:port` on a free loopback port. */
  static async start(host: string, port: number): Promise<TcpProxy> {
    const pairs = new Set<Pair>();
    const server = createServer((client) => {
      const upstream = connect(port, host);
      const pair = { client, upstream };
      pairs.add(pair);
      client.pipe(upstream);
      upstream.pipe(client);
      const drop = (): void => {
        pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      client.on("error", drop).on("close", drop);
      upstream.on("error", drop).on("close", drop);
    });
    const proxy = new TcpProxy(server, pairs);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return proxy;
  }

  /** The port to connect to. */
  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  /** Stops forwarding on every connection open now; they stay open, silent both ways. */
  freeze(): void {
    for (const pair of this.#live) {
      pair.client.unpipe(pair.upstream);
      pair.upstream.unpipe(pair.client);
      pair.client.pause();
      pair.upstream.pause();
      this.#frozen.add(pair);
    }
    this.#live.clear();
  }

  /** Closes the proxy and every connection through it, frozen or not. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const pair of [...this.#live, ...this.#frozen]) {
      pair.client.destroy();
      pair.upstream.destroy();
    }
    await closed;
  }
}
