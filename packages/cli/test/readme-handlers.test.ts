import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tempDir } from "@pyrexis/test-utils";
import { extractExamples } from "@pyrexis/test-utils/readme";
import { pyrexis } from "./helpers.js";

// The handlers module the README shows must load where a user puts it: in a folder of their own,
// next to no node_modules (a clone's `pnpm pyrexis`, a global install). So it is written to the
// OS temp folder, outside this workspace, and run in all three modes by a real worker.
// (test/readme.test.ts type-checks the same block; this runs it through the CLI.)

const tmp = tempDir("pyrexis-cli-readme-");
const dir = tmp.dir;
const handlers = tmp.file("handlers.mjs");

/** The README's block named `// handlers.mjs`, found as the README check finds it. */
async function readmeHandlers(): Promise<string> {
  const readme = await readFile(new URL("../README.md", import.meta.url), "utf8");
  const block = extractExamples(readme).find((e) => e.file === "handlers.mjs");
  if (block === undefined) throw new Error("README.md has no ```js block starting with // handlers.mjs");
  return block.code;
}

beforeAll(async () => {
  await writeFile(handlers, await readmeHandlers());
});
afterAll(() => tmp.remove());

describe("the README's handlers module, outside the workspace", () => {
  it("is checked by submit and runs in async, thread and process mode", async () => {
    const store = join(dir, "jobs.db");
    for (const [id, args] of [
      ["a", ["echo", '{"text":"hi"}', "--mode", "async"]],
      ["t", ["sum", "[1,2,3]", "--mode", "thread"]],
      ["p", ["sum", "[4,5]", "--mode", "process"]],
    ] as const) {
      const r = await pyrexis(["submit", ...args, "--id", id, "--store", store, "--handlers", "./handlers.mjs"], dir);
      expect(r.stderr).toBe("");
      expect(r.stdout).toBe(`${id}\n`);
    }
    const unknown = await pyrexis(["submit", "nope", "--store", store, "--handlers", "./handlers.mjs"], dir);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/no handler named "nope"/);

    const worker = await pyrexis(["worker", "--store", store, "--handlers", "./handlers.mjs", "--exit-when-drained", "-q"], dir);
    expect(worker.code, worker.stderr).toBe(0);
    expect(worker.stdout).toMatch(/^summary: 3 completed, 0 failed/m);

    const outputs: Record<string, unknown> = {};
    for (const id of ["a", "t", "p"]) {
      const r = await pyrexis(["status", id, "--json", "--store", store], dir);
      outputs[id] = JSON.parse(r.stdout).result.output;
    }
    expect(outputs).toEqual({ a: { echoed: { text: "hi" } }, t: 6, p: 9 });
  });
});
