// Child process: runs the scenarios named in argv[2] (JSON) against one contender and reports
// each result, with this process's own peak RSS, to the parent over IPC. A fresh process per
// measurement keeps one contender's leftovers (heap, sockets, timers) out of the next one.
import { findVariant } from "./contenders/index.mjs";
import { runScenario } from "./scenarios.mjs";

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
  try {
    const result = await runScenario(variant, scenario, params);
    msg = { contender, scenario, status: "ok", result };
  } catch (error) {
    msg = { contender, scenario, ...classify(error) };
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
