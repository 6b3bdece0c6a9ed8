import { describe, expect, it } from "vitest";
import { idleWarned, openWorkspacePath, reclaimedBecause } from "./idle";

describe("idle reclaim", () => {
  it("opens the workspace through the portal, which records the first open", () => {
    expect(openWorkspacePath("0b6f-1")).toBe("/api/v1/reservations/0b6f-1/open");
  });

  it("names why a reservation was reclaimed, and only a reclaimed one", () => {
    expect(reclaimedBecause({ status: "COMPLETED", reason: "idle" })).toMatch(/idle/);
    expect(reclaimedBecause({ status: "COMPLETED", reason: "no-show" })).toMatch(/never opened/);
    expect(reclaimedBecause({ status: "COMPLETED", reason: "released" })).toBeNull();
    expect(reclaimedBecause({ status: "CANCELED", reason: "idle" })).toBeNull();
  });

  it("tells a standing warning from a keep", () => {
    const warned = { reason: "idle" as const, warned_at: "x", release_at: "y", keep_until: null };
    expect(idleWarned({ status: "ACTIVE", idle: warned })).toBe(true);
    expect(idleWarned({ status: "ACTIVE", idle: { ...warned, reason: null } })).toBe(false);
    expect(idleWarned({ status: "ACTIVE", idle: null })).toBe(false);
    expect(idleWarned({ status: "COMPLETED", idle: warned })).toBe(false);
  });
});
