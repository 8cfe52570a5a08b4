// `pnpm --filter @pyrexis/docs-check check`: prints every problem of the repository's docs and
// exits 1 if there is one (the package's test runs the same check in CI).
import { fileURLToPath } from "node:url";
import { checkDocs } from "./index.mjs";

const root = fileURLToPath(new URL("../../../", import.meta.url));
const problems = await checkDocs(root);
for (const p of problems) console.error(p);
console.error(problems.length === 0 ? "docs-check: all good" : `docs-check: ${problems.length} problem(s)`);
process.exitCode = problems.length === 0 ? 0 : 1;
