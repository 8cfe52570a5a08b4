import { describe, expect, it } from "vitest";
import { createJob, isPyrexisError, parseJobSpec, type JsonValue } from "@pyrexis/models";
import { assertSameWork, MemoryJobStore, splitExisting } from "../src/index.js";

const job = (id: string, payload: JsonValue, handler = "h", mode = "async") =>
  createJob(parseJobSpec({ id, handler, payload, mode }), 1000);

describe("assertSameWork", () => {
  it("accepts the same handler, mode and JSON payload, whatever the key order", () => {
    expect(() => assertSameWork(job("a", { x: [1, { y: null }], z: "s" }), job("a", { z: "s", x: [1, { y: null }] }))).not.toThrow();
  });

  it.each<[JsonValue, JsonValue]>([
    [{ x: 1 }, { x: 1, y: 2 }],
    [
      [1, 2],
      [2, 1],
    ],
    [[1], { 0: 1 }],
    [null, {}],
    ["1", 1],
  ])("names the payload when %j differs from %j", (a, b) => {
    const err = (() => {
      try {
        assertSameWork(job("a", a), job("a", b));
      } catch (e) {
        return e;
      }
    })();
    expect(isPyrexisError(err, "JOB_CONFLICT")).toBe(true);
    expect(err).toMatchObject({ jobId: "a", fields: ["payload"] });
  });

  it("names handler and mode", () => {
    expect(() => assertSameWork(job("a", 1, "h", "async"), job("a", 1, "g", "thread"))).toThrow(/handler, mode/);
  });
});

describe("splitExisting", () => {
  it("answers stored ids with the stored jobs, repeats with the first spec's job, and leaves generated ids alone", async () => {
    const store = new MemoryJobStore();
    const stored = job("a", 1);
    await store.commit({ insert: [stored] });
    const batch = [job("a", 1), job("b", 2), job("b", 2), job("gen", 3)];
    const { fresh, answer } = await splitExisting(store, batch, [true, true, true, false]);
    expect(fresh.map((j) => j.id)).toEqual(["b", "gen"]);
    expect(answer[0]).toEqual(stored);
    expect(answer[2]).toBe(batch[1]);
    await store.close();
  });
});
