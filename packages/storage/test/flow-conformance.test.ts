// The flow cases of the conformance suite: they pass on the reference (MemoryJobStore with
// `flow: true`), are skipped without the capability, and each kind of broken store fails them.
import { describe, expect, it } from "vitest";
import { describeFlow, type JobStoreFactory, type StoreOpenOptions, type TestApi } from "../src/conformance/index.js";
import { MemoryJobStore, type FlowClaimRequest, type FlowClaimResult } from "../src/index.js";

/** Runs the flow group through a fake framework; returns the titles per outcome. */
async function outcomes(factory: JobStoreFactory): Promise<Record<"passed" | "failed" | "skipped", string[]>> {
  const tests: { name: string; fn: (ctx: { skip(): void }) => unknown }[] = [];
  const api: TestApi = { describe: (_name, fn) => fn(), it: (name, fn) => tests.push({ name, fn }) };
  describeFlow(api, factory);
  const out = { passed: [] as string[], failed: [] as string[], skipped: [] as string[] };
  for (const t of tests) {
    let skipped = false;
    try {
      await t.fn({ skip: () => void (skipped = true) });
      (skipped ? out.skipped : out.passed).push(t.name);
    } catch {
      out.failed.push(t.name);
    }
  }
  return out;
}

const factoryOf = (make: (options?: StoreOpenOptions) => MemoryJobStore): JobStoreFactory => ({
  name: "x",
  create: async (options) => make(options),
  openSecond: async (store) => store,
});

/** Claims by flow but ignores every limit: plain claim order. */
class IgnoresLimits extends MemoryJobStore {
  override async claimFlow(request: FlowClaimRequest): Promise<FlowClaimResult> {
    return { claimed: await this.claim(request), refused: 0 };
  }
}

/** Applies limits, but counts no slot: `maxConcurrent` never binds. */
class NoSlots extends MemoryJobStore {
  override async claimFlow(request: FlowClaimRequest): Promise<FlowClaimResult> {
    const limits = Object.fromEntries(
      Object.entries(request.flow.limits).flatMap(([k, l]) => (l.rate === undefined ? [] : [[k, { rate: l.rate }]])),
    );
    return super.claimFlow({ ...request, flow: { ...request.flow, limits } });
  }
}

/** Applies limits, ignores group weights. */
class NoWeights extends MemoryJobStore {
  override async claimFlow(request: FlowClaimRequest): Promise<FlowClaimResult> {
    return super.claimFlow({ ...request, flow: { limits: request.flow.limits } });
  }
}

describe("the flow cases of the conformance suite", () => {
  it("pass the reference store", async () => {
    const o = await outcomes(factoryOf((options) => new MemoryJobStore({ ...options, flow: true })));
    expect(o.failed).toEqual([]);
    expect(o.passed.length).toBeGreaterThanOrEqual(11);
  });

  it("are skipped for a store without the capability", async () => {
    const o = await outcomes(factoryOf((options) => new MemoryJobStore(options)));
    expect(o.failed).toEqual([]);
    expect(o.passed).toEqual([]);
  });

  it("catch a store that ignores limits", async () => {
    const { failed } = await outcomes(factoryOf((options) => new IgnoresLimits({ ...options, flow: true })));
    expect(failed).toEqual(
      expect.arrayContaining([
        expect.stringContaining("a rate admits jobs while their units fit"),
        expect.stringContaining("no sliding window ever holds more"),
        expect.stringContaining("maxConcurrent counts running holds"),
        expect.stringContaining("a refused job holds its limits"),
        expect.stringContaining("groups weighted 3:2:1"),
        expect.stringContaining("a new group's first job"),
      ]),
    );
  });

  it("catch a store that counts no concurrency slots, and one that ignores group weights", async () => {
    const slots = await outcomes(factoryOf((options) => new NoSlots({ ...options, flow: true })));
    expect(slots.failed).toEqual(
      expect.arrayContaining([
        expect.stringContaining("maxConcurrent counts running holds"),
        expect.stringContaining("concurrent flow claims never hand out one job twice nor exceed maxConcurrent"),
      ]),
    );
    const weights = await outcomes(factoryOf((options) => new NoWeights({ ...options, flow: true })));
    expect(weights.failed).toEqual(
      expect.arrayContaining([expect.stringContaining("groups weighted 3:2:1"), expect.stringContaining("group tags live in the store")]),
    );
  });
});
