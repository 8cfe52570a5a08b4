// A vitest setup file (testConfig adds it). Bytes written straight to this worker's stdout and
// stderr bypass vitest's console capture: child processes relayed by a worker pool (tinypool
// pipes a child's output into process.stdout/stderr), a crashing worker's native stack, a V8
// out-of-memory report. Routed through `console` instead, they belong to the test that was
// running and, with `silent: "passed-only"`, are printed only when that test fails.
import { afterAll, afterEach } from "vitest";

type Write = typeof process.stdout.write;
interface Route {
  readonly stream: NodeJS.WriteStream;
  readonly original: Write;
  pending: string;
}

const ROUTED = Symbol.for("@pyrexis/test-utils/route-output");
const state = globalThis as { [ROUTED]?: boolean };
let forwarding = false;

function install(stream: NodeJS.WriteStream, log: (text: string) => void): Route {
  const route: Route = { stream, original: stream.write.bind(stream), pending: "" };
  const write = (chunk: string | Uint8Array, encodingOrCallback?: unknown, callback?: unknown): boolean => {
    const done = typeof encodingOrCallback === "function" ? encodingOrCallback : callback;
    // vitest's own console never writes here; if something under it does, do not loop.
    if (forwarding) return route.original(chunk, done as () => void);
    const encoding = typeof encodingOrCallback === "string" ? (encodingOrCallback as BufferEncoding) : "utf8";
    route.pending += typeof chunk === "string" ? chunk : Buffer.from(chunk).toString(encoding);
    const end = route.pending.lastIndexOf("\n");
    if (end !== -1) {
      const lines = route.pending.slice(0, end);
      route.pending = route.pending.slice(end + 1);
      forwarding = true;
      try {
        log(lines);
      } finally {
        forwarding = false;
      }
    }
    if (typeof done === "function") queueMicrotask(done as () => void);
    return true;
  };
  stream.write = write;
  return route;
}

function flush(route: Route, log: (text: string) => void): void {
  if (route.pending === "") return;
  const text = route.pending;
  route.pending = "";
  log(text);
}

if (state[ROUTED] !== true) {
  state[ROUTED] = true;
  const out = (text: string): void => console.log(text);
  const err = (text: string): void => console.error(text);
  const routes = [
    [install(process.stdout, out), out],
    [install(process.stderr, err), err],
  ] as const;
  // A partial last line still belongs to the test that wrote it.
  afterEach(() => {
    for (const [route, log] of routes) flush(route, log);
  });
  afterAll(() => {
    for (const [route, log] of routes) flush(route, log);
  });
}
