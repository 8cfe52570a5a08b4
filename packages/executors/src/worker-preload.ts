// Loaded with `--import` in every pool worker (thread or child process), before tinypool's own
// worker entry. Tinypool reads `process.memoryUsage()` after every task to feed its
// `maxMemoryLimitBeforeRecycle` option, which Pyrexis never sets (`maxMemoryMb` is checked by the
// worker entry itself, only when asked). The full call reads the process's resident set size from
// the kernel, ~8–10 µs here: more than the rest of a no-op task's work in the worker. Tinypool has
// no option to skip it, so this module hands tinypool's entry, and it alone, a reader of the V8
// heap figures that tinypool uses (well under a microsecond); handlers see the real function. See
// `tinypool-internals.ts` for the assumptions and their tests.
import { getHeapStatistics } from "node:v8";
import { installTinypoolMemoryReader, isTinypoolEntry } from "./tinypool-internals.js";

/**
 * `process.memoryUsage` for tinypool's entry: the heap figures are real (the same V8 statistics
 * the full call reads), rss and array buffers are not measured (tinypool reads `heapUsed` only).
 */
function heapMemoryUsage(): NodeJS.MemoryUsage {
  const heap = getHeapStatistics();
  return { rss: 0, heapTotal: heap.total_heap_size, heapUsed: heap.used_heap_size, external: heap.external_memory, arrayBuffers: 0 };
}

// Only in a worker started by tinypool (its entry is the main script): a process or thread a
// handler starts inherits this `--import`, and there the real function must stay.
if (isTinypoolEntry(process.argv[1])) installTinypoolMemoryReader(heapMemoryUsage);
