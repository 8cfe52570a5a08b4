// Every check of the repository's docs, over the files git tracks (or would track).
import { checkArrows } from "./arrows.mjs";
import { checkBenchmarks } from "./benchmarks.mjs";
import { repoFiles } from "./files.mjs";
import { checkLinks } from "./links.mjs";

export { checkArrows, checkBenchmarks, checkLinks, repoFiles };

/**
 * All problems of the docs under `root` (a git work tree): broken relative links and headings in
 * every markdown file, the arrows block against the package.json files, and the package READMEs'
 * benchmark sections against docs/PERFORMANCE.md.
 * @param {string} root
 * @returns {Promise<string[]>}
 */
export async function checkDocs(root) {
  const markdown = repoFiles(root, ["*.md"]);
  const readmes = markdown.filter((p) => /^(packages\/[^/]+|bench)\/README\.md$/.test(p));
  return [
    ...(await checkLinks(root, markdown)),
    ...checkArrows(root, repoFiles(root, ["package.json", "*/package.json", "*/*/package.json"])),
    ...checkBenchmarks(root, readmes),
  ];
}
