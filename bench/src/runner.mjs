// Child process: runs the scenarios named in argv[2] (JSON) against one contender and reports
// each result, with this process's own peak RSS, to the parent over IPC. A fresh process per
// measurement keeps one contender's leftovers (heap, sockets, timers) out of the next one.
//
// A scenario in WARMED_UP runs twice here: first the warm-up, the first workload of this process
// (JIT, lazy imports, first connections), reported apart as `cold` since users meet it too; then
// the measured run. Each run gets a driver of its own (setup → run → cleanup), so the measured run
// starts from an empty queue like the warm-up did and differs from it only in a warm process.
import { findVariant } from "./contenders/index.mjs";
import { runScenario, WARMED_UP } from "./scenarios.mjs";

/** @typedef {import("./report.mjs").Message} Message */

const { contender, scenarios, params } =
  /** @type {{ contender: string, scenarios: string[], params: import("./scenarios.mjs").Params }} */ (JSON.parse(process.argv[2] ?? "{}"));
/** Sends `msg` to the parent (or prints it when run by hand), resolving once it is out. @param {Message} msg */
const send = (msg) =>
  /** @type {Promise<void>} */ (
    new Promise((resolve) => (process.send ? process.send(msg, () => resolve()) : (console.log(JSON.stringify(msg)), resolve())))
  );

/**
 * How a failed scenario is reported: a server that is not there, a contender that cannot load, or a crash.
 * @param {unknown} error
 * @returns {Pick<Message, "status" | "reason" | "stack">}
 */
function classify(error) {
  const e = /** @type {{ message?: unknown, code?: unknown, stack?: string } | null | undefined} */ (error);
  const reason =
    String(e?.message ?? error)
      .split("\n")[0]
      ?.slice(0, 160) ?? "";
  if (e?.code === "BENCH_UNREACHABLE") return { status: "unreachable", reason };
  if (
    e?.code === "BENCH_UNAVAILABLE" ||
    e?.code === "ERR_MODULE_NOT_FOUND" ||
    /does not export|Cannot find package|is not a constructor|could not load the optional/.test(reason)
  ) {
    return { status: "unavailable", reason };
  }
  return { status: "crashed", reason, stack: String(e?.stack ?? "") };
}

const variant = findVariant(contender);
for (const scenario of scenarios) {
  /** @type {Message} */
  let msg;
  /** @type {Message["cold"]} */
  let cold;
  const warmsUp = WARMED_UP.includes(scenario);
  try {
    if (warmsUp) {
      cold = await runScenario(variant, scenario, params);
      // The warm-up's garbage is collected now, not inside the measured run (peers.mjs forks with --expose-gc).
      globalThis.gc?.();
    }
    const result = await runScenario(variant, scenario, params);
    msg = { contender, scenario, status: "ok", result, ...(cold ? { cold } : {}) };
  } catch (error) {
    const failed = classify(error);
    // A crash in the warm-up leaves no measured run: say which of the two it was.
    const inWarmUp = warmsUp && cold === undefined && failed.status === "crashed";
    msg = { contender, scenario, ...failed, ...(inWarmUp ? { reason: `warm-up: ${failed.reason}` } : {}), ...(cold ? { cold } : {}) };
  }
  msg.maxRssMB = process.resourceUsage().maxRSS / 1024;
  await send(msg);
  if (msg.status === "unreachable" || msg.status === "unavailable") {
    // Same reason for the rest of this contender's scenarios: say so without retrying each.
    for (const rest of scenarios.slice(scenarios.indexOf(scenario) + 1)) {
      await send({ contender, scenario: rest, status: msg.status, reason: msg.reason, maxRssMB: msg.maxRssMB });
    }
    break;
  }
}
// Drivers close what they open; exit anyway so a library's stray timer cannot hold the run.
process.exit(0);
