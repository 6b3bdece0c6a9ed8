import { describe, expect, it } from "vitest";
import { ceilToGrid, floorToGrid, fmtDuration, fromLocalInput, toLocalInput, toUtcIso } from "./time";

describe("time", () => {
  it("writes UTC with Z and no milliseconds", () => {
    expect(toUtcIso(new Date(Date.UTC(2030, 0, 7, 9, 0, 0, 123)))).toBe("2030-01-07T09:00:00Z");
  });

  it("snaps to the 15-minute grid", () => {
    const t = new Date("2030-01-07T09:07:30Z");
    expect(toUtcIso(ceilToGrid(t))).toBe("2030-01-07T09:15:00Z");
    expect(toUtcIso(floorToGrid(t))).toBe("2030-01-07T09:00:00Z");
    expect(toUtcIso(ceilToGrid(new Date("2030-01-07T09:15:00Z")))).toBe("2030-01-07T09:15:00Z");
  });

  it("round-trips datetime-local values in local time", () => {
    const t = new Date(2030, 0, 7, 9, 45);
    expect(toLocalInput(t)).toBe("2030-01-07T09:45");
    expect(fromLocalInput("2030-01-07T09:45")?.getTime()).toBe(t.getTime());
    expect(fromLocalInput("")).toBeNull();
  });

  it("says how long in the largest useful units", () => {
    expect(fmtDuration(2 * 86_400_000 + 3 * 3_600_000)).toBe("2d 3h");
    expect(fmtDuration(3 * 3_600_000 + 5 * 60_000)).toBe("3h 05m");
    expect(fmtDuration(4 * 60_000 + 9_000)).toBe("4m 09s");
    expect(fmtDuration(-5)).toBe("0m 00s");
  });
});
