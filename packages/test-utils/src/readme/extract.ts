// Finds the TypeScript and JavaScript examples of a README and what each is marked to be. The
// convention (also in CONTRIBUTING.md): a ```ts or ```js block runs; flags after the language
// say otherwise. A first line `// name.ts` names the file the block becomes.

/** What the check does with a block. */
export type ExampleMode =
  /** Type-checked, compiled and run: must exit 0 (the default). */
  | "run"
  /** Type-checked (and compiled, so other blocks can load it), not run on its own. */
  | "no-run"
  /** Neither: a sketch that names code the reader writes. Use sparingly. */
  | "no-check"
  /** Must appear, line for line, in the file it names (a test that runs it). */
  | "excerpt";

/** One fenced ts/js block of a README. */
export interface ReadmeExample {
  /** `ts` for ```ts / ```typescript / ```mts, `js` for ```js / ```javascript / ```mjs. */
  readonly lang: "ts" | "js";
  readonly mode: ExampleMode;
  /** File name the block is written to, from its first-line comment or its section heading. */
  readonly file: string;
  /** 1-based line of the opening fence in the README. */
  readonly line: number;
  /** The block's text (without the fences, de-indented as far as the fence was indented). */
  readonly code: string;
  /** For `excerpt=<path>`: the path, relative to the README's directory. */
  readonly excerptOf: string | undefined;
}

/** A README whose examples cannot be checked as marked (the message names the line). */
export class ReadmeFormatError extends Error {
  override readonly name = "ReadmeFormatError";
}

const LANGS: Readonly<Record<string, "ts" | "js">> = { ts: "ts", typescript: "ts", mts: "ts", js: "js", javascript: "js", mjs: "js" };
const EXTENSIONS: Readonly<Record<"ts" | "js", readonly string[]>> = { ts: [".ts", ".mts"], js: [".js", ".mjs"] };
const FILE_COMMENT = /^\/\/\s*([\w.-]+\.[cm]?[jt]s)(?=\s|$)/;
const OPEN_FENCE = /^( {0,3})(`{3,}|~{3,})\s*([^`\s]*)(.*)$/;
const HEADING = /^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$/;

function slug(text: string): string {
  const s = text
    .toLowerCase()
    .replace(/[`*_[\]()@]/g, "")
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-+|-+$/g, "");
  return s === "" ? "example" : s;
}

interface Flags {
  mode: ExampleMode;
  excerptOf: string | undefined;
}

function parseFlags(words: readonly string[], where: string): Flags {
  const flags: Flags = { mode: "run", excerptOf: undefined };
  for (const word of words) {
    let mode: ExampleMode;
    if (word === "no-run" || word === "no-check") mode = word;
    else if (word.startsWith("excerpt=") && word.length > "excerpt=".length) {
      mode = "excerpt";
      flags.excerptOf = word.slice("excerpt=".length);
    } else throw new ReadmeFormatError(`${where}: unknown example flag "${word}" (known: no-run, no-check, excerpt=<path>)`);
    if (flags.mode !== "run") throw new ReadmeFormatError(`${where}: give one of no-run, no-check, excerpt=<path>, not several`);
    flags.mode = mode;
  }
  return flags;
}

/**
 * The ts/js examples of a README, in order. Other fenced blocks (sh, text, json, …) are skipped.
 * Throws {@link ReadmeFormatError} on an unknown flag, an unclosed fence, two blocks claiming
 * one file name, or a file name whose extension does not match the block's language.
 *
 * @param markdown - the README's text.
 * @param name - how messages name the README (e.g. its path).
 */
export function extractExamples(markdown: string, name = "README.md"): ReadmeExample[] {
  const lines = markdown.split(/\r?\n/);
  const examples: ReadmeExample[] = [];
  const named = new Set<string>();
  let heading: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const h = HEADING.exec(line);
    if (h) {
      heading = h[1];
      continue;
    }
    const open = OPEN_FENCE.exec(line);
    if (!open) continue;
    const indent = open[1]!.length;
    const fence = open[2]!;
    const where = `${name}:${i + 1}`;
    const body: string[] = [];
    let closed = false;
    for (i++; i < lines.length; i++) {
      const l = lines[i]!;
      const trimmed = l.trim();
      if (trimmed.length >= fence.length && trimmed === fence[0]!.repeat(trimmed.length) && /^ {0,3}\S/.test(l)) {
        closed = true;
        break;
      }
      body.push(l.slice(Math.min(indent, l.length - l.trimStart().length)));
    }
    if (!closed) throw new ReadmeFormatError(`${where}: code block is never closed`);
    const lang = LANGS[open[3]!.toLowerCase()];
    if (lang === undefined) continue;
    const flags = parseFlags(open[4]!.trim().split(/\s+/).filter(Boolean), where);
    const code = body.join("\n");
    const fromComment = FILE_COMMENT.exec(body[0] ?? "")?.[1];
    let file: string;
    if (fromComment !== undefined) {
      if (!EXTENSIONS[lang].some((ext) => fromComment.endsWith(ext)))
        throw new ReadmeFormatError(`${where}: a \`\`\`${open[3]} block cannot be "${fromComment}" (use ${EXTENSIONS[lang].join(" or ")})`);
      if (named.has(fromComment)) throw new ReadmeFormatError(`${where}: a second block is named "${fromComment}"`);
      file = fromComment;
    } else {
      const base = slug(heading ?? "example");
      const ext = lang === "ts" ? ".ts" : ".mjs";
      file = `${base}${ext}`;
      for (let n = 2; named.has(file); n++) file = `${base}-${n}${ext}`;
    }
    named.add(file);
    examples.push({ lang, mode: flags.mode, file, line: i - body.length, code, excerptOf: flags.excerptOf });
  }
  return examples;
}
