// What the schedules assume of croner (src/cron.ts), one test per assumption: if an upgrade
// changes one, it fails here first.
import { describe, expect, it } from "vitest";
import { isPyrexisError } from "@pyrexis/models";
import { canonicalTimezone, parseCron } from "../src/cron.js";

const iso = (ms: number | undefined): string | undefined => (ms === undefined ? undefined : new Date(ms).toISOString());
const at = (s: string): number => Date.parse(s);

describe("parseCron", () => {
  it("steps through ticks in UTC, strictly after the given instant", () => {
    const c = parseCron("*/15 * * * *", "UTC");
    expect(iso(c.next(at("2026-01-01T10:00:00.000Z")))).toBe("2026-01-01T10:15:00.000Z");
    expect(iso(c.next(at("2026-01-01T10:14:59.999Z")))).toBe("2026-01-01T10:15:00.000Z");
    expect(c.between(at("2026-01-01T10:00:00.000Z"), at("2026-01-01T11:00:00.000Z"), 100).map(iso)).toEqual([
      "2026-01-01T10:15:00.000Z",
      "2026-01-01T10:30:00.000Z",
      "2026-01-01T10:45:00.000Z",
      "2026-01-01T11:00:00.000Z",
    ]);
  });

  it("between keeps the latest `max` ticks, also after a long gap", () => {
    const c = parseCron("* * * * *", "UTC");
    const ticks = c.between(at("2025-01-01T00:00:00.000Z"), at("2026-01-01T00:00:00.000Z"), 3);
    expect(ticks.map(iso)).toEqual(["2025-12-31T23:58:00.000Z", "2025-12-31T23:59:00.000Z", "2026-01-01T00:00:00.000Z"]);
    expect(c.between(at("2026-01-01T00:00:00.000Z"), at("2026-01-01T00:00:30.000Z"), 3)).toEqual([]);
  });

  it("a daily 02:30 in America/New_York fires once on the spring-forward day, right after the gap (03:00 EDT)", () => {
    const c = parseCron("30 2 * * *", "America/New_York");
    expect(c.between(at("2026-03-07T00:00:00.000Z"), at("2026-03-10T00:00:00.000Z"), 100).map(iso)).toEqual([
      "2026-03-07T07:30:00.000Z", // 02:30 EST
      "2026-03-08T07:00:00.000Z", // 02:30 does not exist: 03:00 EDT
      "2026-03-09T06:30:00.000Z", // 02:30 EDT
    ]);
  });

  it("a daily 01:30 in America/New_York fires once on the fall-back day (the first 01:30, EDT)", () => {
    const c = parseCron("30 1 * * *", "America/New_York");
    expect(c.between(at("2026-10-31T00:00:00.000Z"), at("2026-11-03T00:00:00.000Z"), 100).map(iso)).toEqual([
      "2026-10-31T05:30:00.000Z",
      "2026-11-01T05:30:00.000Z", // 01:30 EDT; the second 01:30 (EST, 06:30Z) is not a tick
      "2026-11-02T06:30:00.000Z",
    ]);
  });

  it("an every-30-minutes job runs in both copies of the repeated hour (real time keeps its pace)", () => {
    const c = parseCron("*/30 * * * *", "America/New_York");
    expect(c.between(at("2026-11-01T04:45:00.000Z"), at("2026-11-01T07:00:00.000Z"), 100).map(iso)).toEqual([
      "2026-11-01T05:00:00.000Z",
      "2026-11-01T05:30:00.000Z",
      "2026-11-01T06:00:00.000Z",
      "2026-11-01T06:30:00.000Z",
      "2026-11-01T07:00:00.000Z",
    ]);
  });

  it("accepts nicknames and canonicalizes the timezone's name", () => {
    expect(iso(parseCron("@daily", "UTC").next(at("2026-01-01T10:00:00.000Z")))).toBe("2026-01-02T00:00:00.000Z");
    expect(parseCron("@hourly", "utc").timezone).toBe("UTC");
    expect(canonicalTimezone("america/new_york")).toBe("America/New_York");
  });

  it.each([
    ["61 * * * *", "UTC", "cron"],
    ["* * *", "UTC", "cron"],
    ["0 0 * * * *", "UTC", "cron"], // seconds: not a five-field expression
    ["@reboot", "UTC", "cron"],
    ["0 0 31 2 *", "UTC", "cron"], // never fires
    ["", "UTC", "cron"],
    [42, "UTC", "cron"],
    ["* * * * *", "Mars/Phobos", "timezone"],
    ["* * * * *", "", "timezone"],
    ["* * * * *", 7, "timezone"],
  ])("%j in %j is an InvalidScheduleError naming the %s", (cron, timezone, field) => {
    let error: unknown;
    try {
      parseCron(cron, timezone);
    } catch (e) {
      error = e;
    }
    expect(isPyrexisError(error, "INVALID_SCHEDULE")).toBe(true);
    expect(error).toMatchObject({ name: "InvalidScheduleError", field, value: String(field === "cron" ? cron : timezone) });
    expect((error as Error).message).toContain(field);
  });
});
