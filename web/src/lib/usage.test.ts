import { describe, expect, it } from "vitest";
import { usageCsvUrl } from "../api/client";
import { dollars, everyDay, lastDays, perMtokOrDash, share, tokens } from "./usage";

describe("usage helpers", () => {
  it("covers whole local days up to now", () => {
    const now = new Date(2030, 0, 7, 9, 30);
    const { from, to } = lastDays(now, 7);
    const start = new Date(from);
    expect(start.getDate()).toBe(1);
    expect(start.getHours()).toBe(0);
    expect(new Date(to).getTime()).toBe(now.getTime());
  });

  it("writes unknown shares and prices as a dash", () => {
    expect(share(null)).toBe("—");
    expect(share(0.875)).toBe("87.5%");
    expect(perMtokOrDash(null)).toBe("—");
    expect(tokens(0)).toBe("—");
    expect(tokens(4_000_000)).toBe("4M");
    expect(dollars(1234.5)).toBe("$1,234.50");
  });

  it("builds the CSV link from the same query", () => {
    const url = usageCsvUrl({
      from: "2030-01-01T00:00:00Z",
      to: "2030-01-08T00:00:00Z",
      group_by: "user,day",
      tz: "UTC",
    });
    const q = new URLSearchParams(url.split("?")[1]);
    expect(url.startsWith("/api/v1/usage.csv?")).toBe(true);
    expect(q.get("group_by")).toBe("user,day");
    expect(q.get("rows")).toBe("groups");
  });
});

describe("everyDay", () => {
  it("gives every local day of the period, with the rows where there are some", () => {
    const from = new Date(2030, 0, 5, 0, 0).toISOString();
    const to = new Date(2030, 0, 8, 9, 30).toISOString();
    const row = { ...everyDay([], from, to)[0]!, day: "2030-01-06", reserved_gpu_hours: 3 };
    const days = everyDay([row], from, to);
    expect(days.map((d) => d.day)).toEqual(["2030-01-05", "2030-01-06", "2030-01-07", "2030-01-08"]);
    expect(days.map((d) => d.reserved_gpu_hours)).toEqual([0, 3, 0, 0]);
  });
});
