/** The modes a `pyrexis worker` serves (its executors), so the only ones `submit` accepts. */
export const CLI_MODES: readonly string[] = Object.freeze(["async", "thread", "process"]);
