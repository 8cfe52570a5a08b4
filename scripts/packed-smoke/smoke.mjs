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

// The dashboard from its tarball: the built UI must be inside it (nothing is built at run time).
const { createDashboard } = await import("@pyrexis/dashboard");
const { SqliteJobStore } = await import("@pyrexis/storage-sqlite");
const store = await SqliteJobStore.open({ path: "./smoke.db" });
const dashboard = createDashboard({ store, port: 0 });
try {
  const base = await dashboard.listen();
  const page = await (await fetch(base)).text();
  if (!page.includes('<div id="app">')) fail(`the dashboard's page is not the shipped UI: ${page.slice(0, 200)}`);
  const script = await fetch(`${base}app.js`);
  if (script.status !== 200 || (await script.text()).length < 1000) fail(`the dashboard's app.js is missing (${script.status})`);
  const listed = /** @type {{ jobs: unknown[] }} */ (await (await fetch(`${base}api/jobs`)).json());
  if (listed.jobs.length < 3) fail(`the dashboard lists ${listed.jobs.length} jobs, not the smoke's 3`);
} finally {
  await dashboard.close();
  await store.close();
}
console.log("packed smoke: the dashboard served its shipped UI and listed the jobs");
