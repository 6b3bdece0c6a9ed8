import { describe, expect, it } from "vitest";
import { controlPlaneText } from "./ControlPlaneBanner";

const seen = "2026-12-01T12:00:00Z";

describe("controlPlaneText", () => {
  it("says what is built, how far and how long is left", () => {
    const text = controlPlaneText({
      state: "building",
      last_seen: seen,
      step: "etcd v3.6.16",
      percent: 42,
      remaining_seconds: 360,
    });
    expect(text).toContain("42%");
    expect(text).toContain("etcd v3.6.16");
    expect(text).toMatch(/about 6\s?m/);
  });
  it("names the failure", () => {
    expect(controlPlaneText({ state: "failed", last_seen: seen, error: "go: not found" })).toContain("go: not found");
  });
  it("says nothing once it runs", () => {
    expect(controlPlaneText({ state: "running", last_seen: seen })).toBeNull();
  });
});
