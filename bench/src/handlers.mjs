// Pyrexis handlers module: the thread executor loads this file in its workers, so the handlers
// must be plain exported functions (closures cannot cross a thread boundary).
import { runTask } from "./work.mjs";

export const noop = (payload) => runTask("noop", payload);
export const cpu = (payload) => runTask("cpu", payload);
export const sleep = (payload) => runTask("sleep", payload);

export default { noop, cpu, sleep };
