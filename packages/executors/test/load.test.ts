import { afterAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { createExecutors } from "../dist/index.js";
import { HANDLERS, runTask } from "./helpers.js";

const router = createExecutors({
  handlersModule: HANDLERS,
  thread: { maxWorkers: 2, concurrentTasksPerWorker: 4 },
  process: { maxWorkers: 2, concurrentTasksPerWorker: 4 },
});
afterAll(() => router.close());

describe("concurrent load", () => {
  it("1,000 tasks across the three modes all return their own output and progress", async () => {
    const seed = 424_242;
    console.log(`fast-check seed ${seed}`);
    const modes = fc.sample(fc.constantFrom("async", "thread", "process"), { seed, numRuns: 1000 });
    const progress = modes.map(() => [] as unknown[]);
    const outputs = await Promise.all(
      modes.map((mode, i) =>
        i % 10 === 0
          ? runTask(router.get(mode), "progress", { n: 3 }, { progress: progress[i]! })
          : runTask(router.get(mode), "echo", { i, mode }),
      ),
    );
    outputs.forEach((output, i) => {
      if (i % 10 === 0) {
        expect(output).toBe(3);
        expect(progress[i]).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }]);
      } else {
        expect(output).toEqual({ i, mode: modes[i] });
      }
    });
  });
});
