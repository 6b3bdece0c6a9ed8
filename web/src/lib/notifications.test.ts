import { describe, expect, it } from "vitest";
import { badge, hasChannel, parseLeadMinutes, toggleChannel } from "./notifications";

describe("notifications", () => {
  it("shows the unread count, capped, and nothing when all is read", () => {
    expect(badge(0)).toBe("");
    expect(badge(7)).toBe("7");
    expect(badge(100)).toBe("99+");
  });

  it("reads reminder minutes, longest first, and names what is wrong", () => {
    expect(parseLeadMinutes("5, 30")).toEqual([30, 5]);
    expect(parseLeadMinutes(" 10 10 ")).toEqual([10]);
    expect(parseLeadMinutes("")).toEqual([]); // no reminders
    expect(parseLeadMinutes("5, soon")).toBe('"soon" is not a whole number of minutes');
    expect(parseLeadMinutes("0")).toMatch(/between 1 and 1440/);
    expect(parseLeadMinutes("2000")).toMatch(/between 1 and 1440/);
  });

  it("switches one channel of one kind", () => {
    const on = toggleChannel({}, "ready", "email", true);
    expect(hasChannel(on, "ready", "email")).toBe(true);
    expect(hasChannel(on, "idle", "email")).toBe(false);
    const both = toggleChannel(on, "ready", "webhook", true);
    expect(both.ready).toEqual(["email", "webhook"]);
    expect(toggleChannel(both, "ready", "email", false).ready).toEqual(["webhook"]);
  });
});
