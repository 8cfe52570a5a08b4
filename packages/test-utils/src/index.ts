// The helpers every test suite uses. README-example checks are on the `./readme` subpath (they
// load TypeScript), the shared vitest settings on `./vitest`.
export { deferred, type Deferred } from "./deferred.js";
export { FaultProxy } from "./fault-proxy.js";
export { seededRandom, type Random } from "./seeded-random.js";
export { tempDir, type TempDir } from "./temp-dir.js";
export { waitFor, WaitTimeoutError, type WaitForOptions } from "./wait-for.js";
