// The tiny program of the packed smoke test, run in a fresh npm project that installed
// packed/*.tgz (see run.mjs): one job per execution mode on a SQLite file, each checked for where
// it ran; then a library error, whose stack must point at shipped TypeScript sources.
import { existsSync } from "node:fs";
import { createEngine } from "@pyrexis/engine";

/**
 * @param {string} message
 * @returns {never}
 */
function fail(message) {
  throw new Error(`packed smoke: ${message}`);
}

const engine = await createEngine({
  store: "./smoke.db",
  handlers: new URL("./handlers.mjs", import.meta.url),
  concurrency: { async: 2, thread: 1, process: 1 },
});
void engine.runLoop();
const jobs = await engine.submitJobs(
  /** @type {const} */ (["async", "thread", "process"]).map((mode) => ({ handler: "where", mode, payload: { mode } })),
);
const results = await Promise.all(jobs.map((job) => engine.waitForResult(job.id)));

// A bad spec is refused by @pyrexis/models; with --enable-source-maps its stack names a .ts file.
/** @type {unknown} */
let refused;
try {
  await engine.submitJob(/** @type {never} */ ({ handler: 42 }));
} catch (error) {
  refused = error;
}
await engine.shutdown();

for (const [i, result] of results.entries()) {
  const mode = jobs[i]?.mode;
  if (result.status !== "completed") fail(`the ${mode} job ended ${result.status}: ${result.error?.message}`);
  const out = /** @type {{ pid: number, threadId: number, payload: { mode: string } }} */ (result.output);
  if (out.payload.mode !== mode) fail(`the ${mode} job returned ${JSON.stringify(out)}`);
  const ranHere = out.pid === process.pid;
  const where = ranHere ? (out.threadId === 0 ? "async" : "thread") : "process";
  if (where !== mode) fail(`the ${mode} job ran as ${where} (pid ${out.pid}, thread ${out.threadId})`);
}

if (!(refused instanceof Error) || !("code" in refused) || refused.code !== "VALIDATION") {
  fail(`a bad spec was not refused with a VALIDATION error: ${String(refused)}`);
}
const frame = /(?:file:\/\/)?(\/[^\s()]*node_modules\/@pyrexis\/[^\s()]+?\.ts):\d+:\d+/.exec(refused.stack ?? "");
if (!frame?.[1]) fail(`no frame of the error's stack points at a Pyrexis .ts source:\n${refused.stack}`);
const source = decodeURIComponent(frame[1]);
if (!existsSync(source)) fail(`the stack points at ${source}, which is not in the installed package`);

console.log(
  `packed smoke: async, thread and process jobs completed on SQLite; a library stack points at ${source.slice(source.indexOf("node_modules"))}`,
);
