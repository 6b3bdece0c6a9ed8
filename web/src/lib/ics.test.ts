import { describe, expect, it } from "vitest";
import { canRelease, reservationIcsPath, wasReleased, webcalUrl } from "./ics";

describe("ics links", () => {
  it("downloads one reservation by id", () => {
    expect(reservationIcsPath("0b6f-1")).toBe("/api/v1/reservations/0b6f-1.ics");
  });

  it("turns the feed URL into a webcal subscription, whatever the scheme", () => {
    expect(webcalUrl("https://berth.example/api/v1/calendar/feeds/berthcal_x.ics")).toBe(
      "webcal://berth.example/api/v1/calendar/feeds/berthcal_x.ics",
    );
    expect(webcalUrl("http://127.0.0.1:8080/f.ics")).toBe("webcal://127.0.0.1:8080/f.ics");
  });
});

describe("release", () => {
  it("is offered on an active session only", () => {
    expect(canRelease({ status: "ACTIVE" })).toBe(true);
    for (const status of ["APPROVED", "COMPLETED", "CANCELED", "FAILED"] as const) {
      expect(canRelease({ status })).toBe(false);
    }
  });

  it("tells a released reservation from one that ran to its end", () => {
    expect(wasReleased({ status: "COMPLETED", reason: "released" })).toBe(true);
    expect(wasReleased({ status: "COMPLETED", reason: null })).toBe(false);
    expect(wasReleased({ status: "CANCELED", reason: "released" })).toBe(false);
  });
});
