import {
  HandlerNotFoundError,
  IncompatibleStoreError,
  parseJobSpec,
  UnknownModeError,
  ValidationError,
  type JobSpecInput,
} from "@pyrexis/models";
import { checkJobLimits, type LimitSettings } from "./flow-control/limits.js";

/** Parses `specs[i]`; the error names the spec's index in a batch (the label is built only then). */
export function parseSpecAt(specs: readonly JobSpecInput[], i: number): ReturnType<typeof parseJobSpec> {
  try {
    return parseJobSpec(specs[i], "job spec");
  } catch (error) {
    if (specs.length === 1) throw error;
    return parseJobSpec(specs[i], `job spec #${i}`);
  }
}

/** What an engine can run: the rules its submissions are checked against. */
export interface SpecRules {
  /** The registered handlers; `undefined` when the engine does not know them (any name passes). */
  readonly handlerNames: ReadonlySet<string> | undefined;
  /** The batching handlers (their jobs run in async mode only). */
  readonly batchHandlers: { has(name: string): boolean } | undefined;
  /** The engine's named limits. */
  readonly limits: ReadonlyMap<string, LimitSettings>;
  /** True when the store resolves dependencies and the engine dispatches through claims. */
  readonly dependencies: boolean;
}

/**
 * Checks a parsed spec against what this engine can run, before anything is written: its handler,
 * its mode, its limits and its dependencies. Each failure is a typed error naming the field.
 */
export class SpecChecker {
  readonly #rules: SpecRules;

  constructor(rules: SpecRules) {
    this.#rules = rules;
  }

  /**
   * Throws `HandlerNotFoundError`, `UnknownModeError`, `ValidationError` (a batching handler's job
   * in another mode than async), `UnknownLimitError` / `LimitCapacityError` (its limits) or
   * `IncompatibleStoreError` (`dependsOn` on an engine that cannot honour it).
   */
  check(
    spec: {
      readonly handler: string;
      readonly mode: string;
      readonly dependsOn?: unknown;
      readonly limits?: Parameters<typeof checkJobLimits>[0];
    },
    modes: readonly string[],
  ): void {
    this.checkHandlerAndMode(spec, modes);
    if (spec.dependsOn !== undefined && !this.#rules.dependencies) {
      throw new IncompatibleStoreError(
        "dependsOn needs a store with the claims and dependencies capabilities (MemoryJobStore, SQLite, PostgreSQL); this one has not",
      );
    }
    if (spec.limits !== undefined) checkJobLimits(spec.limits, this.#rules.limits);
  }

  /** `HandlerNotFoundError` or `UnknownModeError` for a spec this engine cannot run (also a schedule's spec). */
  checkHandlerAndMode(spec: { readonly handler: string; readonly mode: string }, modes: readonly string[]): void {
    const names = this.#rules.handlerNames;
    if (names && !names.has(spec.handler)) throw new HandlerNotFoundError(spec.handler, [...names]);
    if (!modes.includes(spec.mode)) throw new UnknownModeError(spec.mode, modes);
    if (spec.mode !== "async" && this.#rules.batchHandlers?.has(spec.handler)) {
      throw new ValidationError(
        `handler ${JSON.stringify(spec.handler)} is a batching handler: its jobs run in async mode only, not ${JSON.stringify(spec.mode)}`,
        [{ path: ["mode"], message: "a batching handler runs in async mode only" }],
      );
    }
  }
}
