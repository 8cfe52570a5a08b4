// Pyrexis handlers module: the thread executor loads this file in its workers, so the handlers
// must be plain exported functions (closures cannot cross a thread boundary).
import { runTask } from "./work.mjs";

/** @typedef {import("./work.mjs").Payload} Payload */

export const noop = (/** @type {Payload} */ payload) => runTask("noop", payload);
export const cpu = (/** @type {Payload} */ payload) => runTask("cpu", payload);
export const sleep = (/** @type {Payload} */ payload) => runTask("sleep", payload);

export default { noop, cpu, sleep };
