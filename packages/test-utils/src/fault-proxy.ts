// A TCP proxy on 127.0.0.1 that a test puts between its clients and a server (PostgreSQL), to
// make their connections half-open: bytes swallowed both ways, no socket closed (what a partition
// or a NAT that forgot the mapping looks like to both ends). Then it resumes them, or destroys
// them. Used by the PostgreSQL store's half-open tests and the multi-engine fault scenario.
import { connect, createServer, type AddressInfo, type Server, type Socket } from "node:net";

interface Pair {
  readonly client: Socket;
  readonly upstream: Socket;
}

/** A proxy whose connections can be frozen, thawed and cut. */
export class FaultProxy {
  readonly #server: Server;
  /** Connections forwarding now (the server's handler adds to it). */
  readonly #live: Set<Pair>;
  /** Connections {@link freeze} silenced (the handler removes the ones that close). */
  readonly #frozen: Set<Pair>;

  private constructor(server: Server, live: Set<Pair>, frozen: Set<Pair>) {
    this.#server = server;
    this.#live = live;
    this.#frozen = frozen;
  }

  /** Starts a proxy to `host:port` on a free loopback port. */
  static async start(host: string, port: number): Promise<FaultProxy> {
    const live = new Set<Pair>();
    const frozen = new Set<Pair>();
    const server = createServer((client) => {
      const upstream = connect(port, host);
      const pair = { client, upstream };
      live.add(pair);
      client.pipe(upstream);
      upstream.pipe(client);
      const drop = (): void => {
        live.delete(pair);
        frozen.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      client.on("error", drop).on("close", drop);
      upstream.on("error", drop).on("close", drop);
    });
    const proxy = new FaultProxy(server, live, frozen);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return proxy;
  }

  /** The port to connect to. */
  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  /** Connections frozen now. */
  get frozen(): number {
    return this.#frozen.size;
  }

  /**
   * Stops forwarding on every connection open now: nothing is read from either side (the
   * kernel buffers what is sent, then the sender's window closes), nothing is closed. New
   * connections still work. Returns how many were frozen.
   */
  freeze(): number {
    const n = this.#live.size;
    for (const pair of this.#live) {
      pair.client.unpipe(pair.upstream);
      pair.upstream.unpipe(pair.client);
      pair.client.pause();
      pair.upstream.pause();
      this.#frozen.add(pair);
    }
    this.#live.clear();
    return n;
  }

  /** Forwards again on the frozen connections: what was swallowed is delivered late. */
  thaw(): void {
    for (const pair of this.#frozen) {
      this.#live.add(pair);
      pair.client.pipe(pair.upstream);
      pair.upstream.pipe(pair.client);
    }
    this.#frozen.clear();
  }

  /** Destroys the frozen connections (both ends see the connection reset). */
  cut(): void {
    for (const pair of [...this.#frozen]) {
      pair.client.destroy();
      pair.upstream.destroy();
    }
    this.#frozen.clear();
  }

  /** Closes the proxy and every connection through it. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const pair of [...this.#live, ...this.#frozen]) {
      pair.client.destroy();
      pair.upstream.destroy();
    }
    await closed;
  }
}
