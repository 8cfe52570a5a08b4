// README-example checks: the vitest entry (describeReadmeExamples) and the parts it is made of.
export { compileExamples, type CompiledExamples, type CompileOptions, type ExampleDiagnostic } from "./compile.js";
export { containsLines, describeReadmeExamples, EXAMPLES_DIR, type ReadmeCheckOptions } from "./describe.js";
export { extractExamples, ReadmeFormatError, type ExampleMode, type ReadmeExample } from "./extract.js";
export { runExample, type ExampleOutput, type RunOptions } from "./run.js";
