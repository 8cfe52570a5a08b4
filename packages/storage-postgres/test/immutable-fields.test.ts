import { afterAll, describe, expect, it } from "vitest";
import { StaleVersionError, transition, type Job } from "@pyrexis/models";
import { admin, dropSchemas, freshSchema, job, openStore, rejection, result } from "./helpers.js";

// A job's group and limits are immutable; the flow columns index them. The stored record is
// authoritative over those columns: a row 0008 did not backfill (a job finished then, or an
// unreadable record) is judged by its record and its columns repaired, on both commit paths.

afterAll(dropSchemas);

const flowJob = (id: string): Job => ({ ...job(id), group: "t1", limits: [{ key: "api", units: 3 }] });

describe("immutable group and limits on PostgreSQL", () => {
  it("judges an update by the record when the flow columns are stale, refuses a change, and repairs the columns of one that keeps them", async () => {
    const schema = freshSchema("imm");
    const store = await openStore(schema, { listen: false });
    try {
      const [a, b, c] = [flowJob("a"), flowJob("b"), flowJob("c")];
      await store.commit({ insert: [a, b, c] });
      await admin(`UPDATE "${schema}".jobs SET flow_group = NULL, flow_limits = NULL`);
      const running = (j: Job): Job => transition(j, "running", 2_000);

      // Updates alone (one statement with the results): a change the record refuses is refused.
      const e = await rejection(
        store.commit({
          update: [
            { job: running(a), expectedVersion: 0 },
            { job: { ...running(b), group: "t2" }, expectedVersion: 0 },
          ],
          results: [result("c")],
        }),
      );
      expect(e).toMatchObject({ code: "VALIDATION" });
      expect(e.message).toMatch(/job b: group is immutable/);
      expect((await store.getJob("a"))?.status).toBe("pending");
      expect(await store.getResult("c")).toBeUndefined();

      // Updates that keep them land on both paths (alone, and beside an insert), columns repaired.
      await store.commit({ update: [{ job: running(a), expectedVersion: 0 }], results: [result("c")] });
      await store.commit({ insert: [job("d")], update: [{ job: running(b), expectedVersion: 0 }] });
      expect((await store.getJob("a"))?.status).toBe("running");
      expect((await store.getJob("b"))?.status).toBe("running");
      expect((await store.getResult("c"))?.jobId).toBe("c");
      const rows = await admin<{ id: string; flow_group: string | null; flow_limits: string | null }>(
        `SELECT id, flow_group, flow_limits FROM "${schema}".jobs WHERE id IN ('a', 'b', 'c') ORDER BY id`,
      );
      expect(rows).toEqual([
        { id: "a", flow_group: "t1", flow_limits: JSON.stringify(a.limits) },
        { id: "b", flow_group: "t1", flow_limits: JSON.stringify(b.limits) },
        // Not updated: left as it was.
        { id: "c", flow_group: null, flow_limits: null },
      ]);

      // With current columns, a changed limit is refused on the mixed path too.
      const e2 = await rejection(
        store.commit({
          insert: [job("e")],
          update: [{ job: { ...transition(running(a), "completed", 3_000), limits: undefined }, expectedVersion: 1 }],
        }),
      );
      expect(e2.message).toMatch(/job a: limits are immutable/);
      expect(await store.getJob("e")).toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it("a dependent waiting with stale flow columns becomes pending when its parent completes, its columns repaired", async () => {
    const schema = freshSchema("immdep");
    const store = await openStore(schema, { listen: false });
    try {
      const parent = job("p");
      const child: Job = { ...flowJob("child"), status: "waiting", dependsOn: ["p"] };
      await store.commit({ insert: [parent, child] });
      // What 0008 leaves for a dependent that was waiting then: no limits column.
      await admin(`UPDATE "${schema}".jobs SET flow_limits = NULL WHERE id = 'child'`);
      const running = transition(parent, "running", 2_000);
      await store.commit({ update: [{ job: running, expectedVersion: 0 }] });
      await store.commit({ update: [{ job: transition(running, "completed", 3_000), expectedVersion: 1 }], results: [result("p")] });
      expect((await store.getJob("child"))?.status).toBe("pending");
      const [row] = await admin<{ flow_limits: string | null }>(`SELECT flow_limits FROM "${schema}".jobs WHERE id = 'child'`);
      expect(row?.flow_limits).toBe(JSON.stringify(child.limits));
    } finally {
      await store.close();
    }
  });

  it("two writers racing on a row with stale flow columns: one update lands, the other gets StaleVersionError", async () => {
    const schema = freshSchema("immrace");
    const [one, two] = [await openStore(schema, { listen: false }), await openStore(schema, { listen: false })];
    try {
      for (let round = 0; round < 10; round++) {
        const j = flowJob(`r${round}`);
        await one.commit({ insert: [j] });
        await admin(`UPDATE "${schema}".jobs SET flow_group = NULL, flow_limits = NULL WHERE id = $1`, [j.id]);
        const outcomes = await Promise.allSettled([
          one.commit({ update: [{ job: transition(j, "running", 2_000), expectedVersion: 0 }] }),
          two.commit({ update: [{ job: transition(j, "cancelled", 2_000), expectedVersion: 0 }] }),
        ]);
        const rejected = outcomes.filter((o) => o.status === "rejected").map((o) => o.reason as unknown);
        expect(rejected, `round ${round}`).toHaveLength(1);
        expect(rejected[0], `round ${round}`).toBeInstanceOf(StaleVersionError);
        expect((await one.getJob(j.id))?.version).toBe(1);
      }
    } finally {
      await one.close();
      await two.close();
    }
  });
});
