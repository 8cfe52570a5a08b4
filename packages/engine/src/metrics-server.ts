import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { ValidationError } from "@pyrexis/models";
import type { Engine } from "./engine.js";

/** Options of {@link serveMetrics}. */
export interface MetricsServerOptions {
  /** TCP port (0: any free port). */
  readonly port: number;
  /** Interface to bind (default `127.0.0.1`: metrics stay on this machine unless you say otherwise). */
  readonly host?: string | undefined;
}

/** A running metrics endpoint. */
export interface MetricsServer {
  /** Where it listens. */
  readonly url: string;
  /** Stops listening (idempotent). */
  close(): Promise<void>;
}

/**
 * Serves the engine's metrics as Prometheus text on `GET /metrics` (every name under `pyrexis_`,
 * see the metrics README), with Node's own HTTP server: no dependency for one read-only route.
 * Anything else answers 404, a method other than GET/HEAD 405. The server closes with the engine.
 *
 * @example
 * ```ts
 * const server = await serveMetrics(engine, { port: 9464 });
 * console.log(`${server.url}/metrics`);
 * ```
 */
export async function serveMetrics(engine: Engine, options: MetricsServerOptions): Promise<MetricsServer> {
  const { port, host = "127.0.0.1" } = options;
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new ValidationError(`metrics port must be an integer 0–65535, got ${String(port)}`, [{ path: ["port"], message: "bad port" }]);
  }
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("not found: metrics are on /metrics\n");
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" }).end("method not allowed\n");
      return;
    }
    let body: string;
    try {
      body = engine.getMetrics().toPrometheus();
    } catch (error) {
      res
        .writeHead(500, { "content-type": "text/plain; charset=utf-8" })
        .end(`metrics failed: ${error instanceof Error ? error.message : String(error)}\n`);
      return;
    }
    res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
    res.end(req.method === "HEAD" ? undefined : body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closed ??= new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }));
  engine.shutdownCoordinator.register("metrics server", close);
  const address = server.address() as AddressInfo;
  const shownHost = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return { url: `http://${shownHost}:${address.port}`, close };
}
