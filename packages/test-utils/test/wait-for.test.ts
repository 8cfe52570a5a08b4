import { describe, expect, it } from "vitest";
import { waitFor, WaitTimeoutError } from "../src/index.js";

describe("waitFor", () => {
  it("resolves with the first truthy value the check returns", async () => {
    let calls = 0;
    const value = await waitFor("the third call", () => (++calls === 3 ? { calls } : undefined));
    expect(value).toEqual({ calls: 3 });
    expect(calls).toBe(3);
  });

  it("awaits an async check", async () => {
    let calls = 0;
    await expect(waitFor("async", async () => ++calls >= 2)).resolves.toBe(true);
  });

  it("rejects with a WaitTimeoutError that says what it waited for", async () => {
    let calls = 0;
    const error = await waitFor(
      "the store to be ready",
      () => {
        calls++;
        return false;
      },
      { timeoutMs: 0 },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WaitTimeoutError);
    expect((error as WaitTimeoutError).message).toBe("timed out after 0 ms waiting for the store to be ready");
    expect((error as WaitTimeoutError).what).toBe("the store to be ready");
    expect(calls).toBe(1);
  });

  it("stops at the first error the check throws", async () => {
    let calls = 0;
    const boom = new Error("disk gone");
    await expect(
      waitFor("never", () => {
        calls++;
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(calls).toBe(1);
  });

  it("refuses arguments that would make it wait wrongly", async () => {
    await expect(waitFor("", () => true)).rejects.toThrow(TypeError);
    await expect(waitFor("x", "not a function" as never)).rejects.toThrow(/check must be a function/);
    await expect(waitFor("x", () => true, { timeoutMs: Number.NaN })).rejects.toThrow(/timeoutMs/);
    await expect(waitFor("x", () => true, { intervalMs: 0 })).rejects.toThrow(/intervalMs must be a finite number >= 1/);
  });
});
