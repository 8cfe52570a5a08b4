// One worker process of the multi-process Pyrexis contenders: an engine on the store named in
// argv[2] (JSON: { store, concurrency, agingRate }; a SQLite path or a postgres:// URL with its
// schema), dispatching through claims. Talks to its driver
// over IPC: sends "ready" once the engine is open and started, runs its loop on "go", reports
// completions in batches ({ type: "completed", count }, one message per ~5 ms, not one per job),
// and on "stop" shuts down and reports its peak RSS.
import { createEngine } from "@pyrexis/engine";
import { runTask } from "./work.mjs";

/** @typedef {import("./work.mjs").Payload} Payload */
/** @typedef {{ type: "ready" } | { type: "completed", count: number } | { type: "stopped", maxRssMB: number } | { type: "error", code?: string, message: string }} WorkerMessage */

const { store, concurrency, agingRate } = /** @type {{ store: string, concurrency: number, agingRate?: number }} */ (
  JSON.parse(process.argv[2] ?? "{}")
);
/** @param {WorkerMessage} m */
const send = (m) => process.send?.(m);

/** The engine, or its opening error reported to the driver (which names it in its crash reason). */
const engine = await createEngine({
  store,
  handlers: {
    noop: (/** @type {Payload} */ p) => runTask("noop", p),
    cpu: (/** @type {Payload} */ p) => runTask("cpu", p),
    sleep: (/** @type {Payload} */ p) => runTask("sleep", p),
  },
  concurrency: { async: concurrency },
  ...(agingRate === undefined ? {} : { agingRate }),
}).catch(async (/** @type {unknown} */ error) => {
  const message = error instanceof Error ? error.message : String(error);
  const cause = error instanceof Error && error.cause instanceof Error ? ` (cause: ${error.cause.message})` : "";
  await new Promise((resolve) =>
    process.send
      ? process.send({ type: "error", message: `worker could not open its engine: ${message}${cause}` }, resolve)
      : resolve(undefined),
  );
  process.exit(1);
});
if (!engine.usesClaims) {
  // Engines in several processes on a store without claims would run the same jobs twice.
  send({ type: "error", code: "BENCH_UNAVAILABLE", message: "this build's store has no claims: one engine per store only" });
  await engine.shutdown({ graceMs: 0 });
  process.exit(0);
}
engine.on("engine:error", ({ error, context }) => {
  process.stderr.write(`pyrexis worker engine:error ${context}: ${error instanceof Error ? error.stack : String(error)}\n`);
});
let unreported = 0;
/** @type {NodeJS.Timeout | undefined} */
let flushTimer;
const flush = () => {
  flushTimer = undefined;
  if (unreported === 0) return;
  send({ type: "completed", count: unreported });
  unreported = 0;
};
engine.on("job:completed", () => {
  unreported++;
  flushTimer ??= setTimeout(flush, 5);
});
/** @type {Promise<void> | undefined} */
let loop;
process.on("message", (/** @type {{ type: string }} */ m) => {
  if (m.type === "go") loop = engine.runLoop();
  else if (m.type === "stop") {
    void (async () => {
      await engine.shutdown({ graceMs: 1000 });
      await loop;
      clearTimeout(flushTimer);
      flush();
      send({ type: "stopped", maxRssMB: process.resourceUsage().maxRSS / 1024 });
      process.exit(0);
    })();
  }
});
// The parent going away ends this worker too.
process.on("disconnect", () => process.exit(0));
send({ type: "ready" });
