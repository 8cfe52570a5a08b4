// Relative links and images in markdown must point at files that exist and at headings those
// files have. remark-validate-links does exactly that, offline, with GitHub's heading slugs; it
// needs unified-engine's file set to see the headings of the other files, hence the engine.
import { Writable } from "node:stream";
import { relative, resolve as resolvePath } from "node:path";
import { remark } from "remark";
import remarkValidateLinks from "remark-validate-links";
import { engine } from "unified-engine";

/** Discards what the engine would print: the problems are read from the files instead. */
const nowhere = () =>
  new Writable({
    write(_chunk, _encoding, done) {
      done();
    },
  });

/**
 * Every broken relative link or image in `files` (markdown paths relative to `root`), as
 * `path:line:column: reason`.
 * @param {string} root
 * @param {string[]} files
 * @returns {Promise<string[]>}
 */
export function checkLinks(root, files) {
  if (files.length === 0) return Promise.resolve([]);
  return new Promise((resolve, reject) => {
    engine(
      {
        processor: remark(),
        cwd: root,
        files,
        extensions: ["md"],
        detectConfig: false,
        detectIgnore: false,
        // Through the engine (not processor.use), so the plugin gets the file set it needs for
        // headings in other files; the cast is only its options' type against the engine's unknown[].
        plugins: /** @type {import("unified-engine").Options["plugins"]} */ ([[remarkValidateLinks, { repository: false, root }]]),
        out: false,
        output: false,
        quiet: true,
        streamError: nowhere(),
      },
      (error, _code, context) => {
        if (error) return reject(error);
        const problems = [];
        for (const file of context?.files ?? []) {
          for (const m of file.messages)
            problems.push(`${relative(root, resolvePath(root, file.path))}:${m.line ?? 0}:${m.column ?? 0}: ${m.reason}`);
        }
        resolve(problems);
      },
    );
  });
}
