// Handlers of the packed smoke test, run in every mode. Each reports where it ran, so the program
// can tell the event loop, a worker thread and a child process apart.
import { threadId } from "node:worker_threads";
import { defineHandlers } from "@pyrexis/engine";

export default defineHandlers({
  where: (payload) => ({ pid: process.pid, threadId, payload }),
});
