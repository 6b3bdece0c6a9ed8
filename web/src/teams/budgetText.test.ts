import { describe, expect, it } from "vitest";
import type { TeamBudget } from "../api/types";
import { capText, usedShare } from "./budgetText";

const budget = (over: Partial<TeamBudget>): TeamBudget => ({
  pool: "c845a",
  gpu_kind: "gpu",
  max_units: null,
  gpu_hours_week: null,
  gpu_hours_month: null,
  units_now: 0,
  week_used: 0,
  week_left: null,
  month_used: 0,
  month_left: null,
  daily: [],
  ...over,
});

describe("team budget words", () => {
  it("says each cap and what is left", () => {
    const text = capText(budget({ max_units: 2, units_now: 1, gpu_hours_week: 40, week_used: 12.5, week_left: 27.5 }));
    expect(text[0]).toBe("1 of 2 x gpu held now");
    expect(text[1]).toContain("this week");
    expect(text[1]).toContain("left");
  });
  it("says when there is no cap", () => {
    expect(capText(budget({}))).toEqual(["no cap"]);
  });
  it("gives the share used, capped at one", () => {
    expect(usedShare(5, 10)).toBe(0.5);
    expect(usedShare(15, 10)).toBe(1);
    expect(usedShare(0, 0)).toBe(1);
    expect(usedShare(3, null)).toBeNull();
  });
});
