import { describe, expect, it } from "vitest";
import { deferred } from "../src/index.js";

describe("deferred", () => {
  it("resolves from outside with the given value", async () => {
    const d = deferred<number>();
    let settled = false;
    void d.promise.then(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    d.resolve(7);
    await expect(d.promise).resolves.toBe(7);
  });

  it("rejects from outside", async () => {
    const d = deferred();
    const reason = new Error("cancelled");
    d.reject(reason);
    await expect(d.promise).rejects.toBe(reason);
  });
});
