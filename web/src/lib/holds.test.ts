import { describe, expect, it } from "vitest";
import { isUpcoming, waitingText } from "./holds";

const iso = (t: string) => `at ${t}`;

describe("holds", () => {
  it("says what a PENDING reservation waits for and until when", () => {
    const until = "2030-01-09T09:00:00Z";
    expect(waitingText({ status: "PENDING", hold_kind: "approval", hold_until: until }, iso)).toBe(
      "Waiting for approval until at 2030-01-09T09:00:00Z",
    );
    expect(waitingText({ status: "PENDING", hold_kind: "offer", hold_until: until }, iso)).toBe(
      "Waiting for your answer until at 2030-01-09T09:00:00Z",
    );
  });

  it("says nothing for any other status", () => {
    for (const status of ["APPROVED", "ACTIVE", "REJECTED", "EXPIRED", "CANCELED"] as const) {
      expect(waitingText({ status, hold_kind: null, hold_until: null })).toBeNull();
    }
  });

  it("lists PENDING with the upcoming reservations, not with the history", () => {
    expect(["PENDING", "APPROVED", "ACTIVE"].every((status) => isUpcoming({ status: status as "PENDING" }))).toBe(true);
    for (const status of ["COMPLETED", "CANCELED", "FAILED", "REJECTED", "EXPIRED"] as const) {
      expect(isUpcoming({ status })).toBe(false);
    }
  });
});
