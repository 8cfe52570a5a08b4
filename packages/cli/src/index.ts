// The public entry: run the command line in-process. The commands, formatting and parsing helpers
// are internals of the CLI (reach them through `runCli`), so they can change without a major.
export { runCli } from "./program.js";
export type { CliIo } from "./io.js";
