// Type-checks and compiles a README's examples with the workspace's TypeScript and compiler
// settings, as one program in a directory inside the package (so `import "@pyrexis/…"`
// resolves the way it does for a user: the package's own name and its dependencies).
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import ts from "typescript";
import type { ReadmeExample } from "./extract.js";

/** A type error, placed in the README. */
export interface ExampleDiagnostic {
  /** `README.md:25:40` style location (1-based), or the file name when it has no position. */
  readonly where: string;
  /** `TS2304`-style code and the flattened message. */
  readonly message: string;
}

/** What {@link compileExamples} produced. */
export interface CompiledExamples {
  readonly diagnostics: readonly ExampleDiagnostic[];
  /** Path of the compiled JavaScript of `example` (exists once compiled, type errors or not). */
  outputOf(example: ReadmeExample): string;
}

/** Where {@link compileExamples} reads settings and writes files. */
export interface CompileOptions {
  /** How locations name the README (e.g. `packages/engine/README.md`). */
  readonly readmeName: string;
  /** Directory the sources go to (`src/`) and the output (`out/`); created if missing. */
  readonly workDir: string;
  /** Where the search for `tsconfig.base.json` starts (upwards); its options are the base. */
  readonly configFrom: string;
}

function findUp(from: string, name: string): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, name);
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

function baseOptions(configFrom: string): ts.CompilerOptions {
  const path = findUp(configFrom, "tsconfig.base.json");
  if (path === undefined) {
    return {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      strict: true,
      skipLibCheck: true,
    };
  }
  const read = ts.readConfigFile(path, (p) => ts.sys.readFile(p));
  if (read.error) throw new Error(`${path}: ${ts.flattenDiagnosticMessageText(read.error.messageText, "\n")}`);
  return ts.parseJsonConfigFileContent(read.config, ts.sys, dirname(path), undefined, path).options;
}

const outputExtension: Readonly<Record<string, string>> = { ".ts": ".js", ".mts": ".mjs", ".js": ".js", ".mjs": ".mjs" };

/**
 * Writes every example that is not `no-check` or `excerpt` to `workDir/src`, type-checks them
 * together (each is its own module) and emits JavaScript to `workDir/out`, even when there are
 * type errors (a run then shows what else is wrong). JavaScript blocks are checked too
 * (`checkJs`), except for implicit `any`s.
 */
export function compileExamples(examples: readonly ReadmeExample[], options: CompileOptions): CompiledExamples {
  const srcDir = join(options.workDir, "src");
  const outDir = join(options.workDir, "out");
  mkdirSync(srcDir, { recursive: true });
  const byPath = new Map<string, ReadmeExample>();
  for (const example of examples) {
    if (example.mode === "no-check" || example.mode === "excerpt") continue;
    const path = join(srcDir, example.file);
    writeFileSync(path, example.code.endsWith("\n") ? example.code : `${example.code}\n`);
    byPath.set(path, example);
  }
  const compilerOptions: ts.CompilerOptions = {
    ...baseOptions(options.configFrom),
    rootDir: srcDir,
    outDir,
    noEmit: false,
    noEmitOnError: false,
    declaration: false,
    declarationMap: false,
    sourceMap: false,
    isolatedDeclarations: false,
    composite: false,
    incremental: false,
    allowJs: true,
    checkJs: true,
    // A block without import/export is still a module of its own, not a script sharing globals.
    moduleDetection: ts.ModuleDetectionKind.Force,
  };
  const program = ts.createProgram({ rootNames: [...byPath.keys()], options: compilerOptions });
  const emitted = program.emit();
  // JavaScript has no annotations to give: "implicitly has an 'any' type" (the TS7xxx family of
  // noImplicitAny) is not an error there; everything else (wrong arguments, typos) is.
  const isJs = (d: ts.Diagnostic): boolean => d.file !== undefined && /\.[cm]?js$/.test(d.file.fileName);
  const all = [...ts.getPreEmitDiagnostics(program), ...emitted.diagnostics].filter((d) => !(isJs(d) && d.code >= 7000 && d.code < 8000));
  // In README order (TypeScript reports file by file, in no order a reader follows).
  const line = (d: ts.Diagnostic): number => {
    const example = d.file === undefined ? undefined : byPath.get(d.file.fileName);
    return example === undefined || d.start === undefined ? -1 : example.line + d.file!.getLineAndCharacterOfPosition(d.start).line;
  };
  const diagnostics = all.sort((a, b) => line(a) - line(b)).map((d) => place(d, byPath, options.readmeName));
  return {
    diagnostics,
    outputOf(example) {
      const ext = /\.[cm]?[jt]s$/.exec(example.file)?.[0] ?? ".ts";
      return join(outDir, example.file.slice(0, -ext.length) + (outputExtension[ext] ?? ".js"));
    },
  };
}

function place(d: ts.Diagnostic, byPath: ReadonlyMap<string, ReadmeExample>, readmeName: string): ExampleDiagnostic {
  const message = `TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`;
  if (d.file === undefined || d.start === undefined) return { where: d.file?.fileName ?? readmeName, message };
  const example = byPath.get(d.file.fileName);
  const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
  if (example === undefined) return { where: `${relative(process.cwd(), d.file.fileName)}:${line + 1}:${character + 1}`, message };
  return { where: `${readmeName}:${example.line + 1 + line}:${character + 1} (${example.file})`, message };
}
