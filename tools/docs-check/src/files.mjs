// Which files the checks read: what git tracks or would track (untracked but not ignored), so a
// new doc is checked before it is committed and nothing under node_modules or dist ever is.
import { execFileSync } from "node:child_process";

/**
 * Paths (relative to `root`, forward slashes) of the files git tracks or would track there that
 * match `patterns` (git pathspecs, e.g. `*.md`).
 * @param {string} root
 * @param {string[]} patterns
 * @returns {string[]}
 */
export function repoFiles(root, patterns) {
  const out = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "-z", "--", ...patterns], {
    cwd: root,
    encoding: "utf8",
  });
  return [...new Set(out.split("\0").filter(Boolean))].sort();
}
