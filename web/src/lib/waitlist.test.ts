import { describe, expect, it } from "vitest";
import type { WaitlistEntry } from "../api/types";
import { isOpen, offerCountdown, offerLeft, STATE_TEXT } from "./waitlist";

const entry = (over: Partial<WaitlistEntry>): WaitlistEntry => ({
  id: 1,
  state: "WAITING",
  owner: "bob",
  team: null,
  pool: "c845a",
  start: "2030-01-08T09:00:00Z",
  end: "2030-01-08T11:00:00Z",
  gpu: { kind: "gpu", count: 1 },
  mode: "interactive",
  cpu: 32,
  memory: "192Gi",
  stage: { engines: [], models: [] },
  reason: null,
  offer: null,
  offer_status: null,
  offer_until: null,
  created_at: "2030-01-07T09:00:00Z",
  updated_at: "2030-01-07T09:00:00Z",
  ...over,
});

describe("the waitlist", () => {
  const now = new Date("2030-01-07T09:00:00Z");

  it("counts an open offer down to its hold's end, and only an open one", () => {
    const offered = entry({
      state: "OFFERED",
      offer: "r1",
      offer_status: "PENDING",
      offer_until: "2030-01-07T09:12:05Z",
    });
    expect(offerLeft(offered, now)).toBe(12 * 60_000 + 5_000);
    expect(offerCountdown(offered, now)).toBe("answer within 12m 05s");
    expect(offerCountdown(offered, new Date("2030-01-07T09:20:00Z"))).toBe("lapsed");
    expect(offerLeft(entry({}), now)).toBeNull();
    expect(offerCountdown(entry({ state: "ACCEPTED", offer_until: null }), now)).toBe("");
  });

  it("lets waiting and offered entries be withdrawn, not settled ones", () => {
    expect(isOpen(entry({}))).toBe(true);
    expect(isOpen(entry({ state: "OFFERED" }))).toBe(true);
    for (const state of ["ACCEPTED", "DECLINED", "LAPSED", "WITHDRAWN", "GONE"] as const) {
      expect(isOpen(entry({ state }))).toBe(false);
      expect(STATE_TEXT[state]).not.toBe("");
    }
  });
});
