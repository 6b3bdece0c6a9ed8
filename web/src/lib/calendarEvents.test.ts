import { describe, expect, it } from "vitest";
import type { CalendarEntry } from "../api/types";
import { toEvent } from "./calendarEvents";

const base: CalendarEntry = {
  id: null,
  mine: false,
  owner: null,
  status: "APPROVED",
  pool: "c845a",
  start: "2030-01-07T09:00:00Z",
  end: "2030-01-07T11:00:00Z",
  gpu: { kind: "gpu", count: 1 },
};

describe("toEvent", () => {
  it("shows one's own reservation as mine, linked to My reservations", () => {
    const e = toEvent({ ...base, id: "r1", mine: true, owner: "alice", gpu: { kind: "mig-1g.24gb", count: 2 } });
    expect(e).toMatchObject({ id: "r1", title: "Mine: 2 × mig-1g.24gb", className: "ev-mine", url: "/reservations" });
  });

  it("shows others' blocks as busy without a name or a link", () => {
    expect(toEvent(base)).toMatchObject({ title: "Busy: 1 × gpu", className: "ev-busy", url: undefined });
  });

  it("names the owner when the API does (admins)", () => {
    expect(toEvent({ ...base, id: "r2", owner: "bob", status: "COMPLETED" }).title).toBe("bob: 1 × gpu (ended)");
    expect(toEvent({ ...base, mine: false, id: null, owner: null, status: "PENDING" }).title).toBe(
      "Busy: 1 × gpu (pending)",
    );
  });

  it("marks a block that waits for a decision, which holds its capacity all the same", () => {
    expect(toEvent({ ...base, status: "PENDING" }).title).toBe("Busy: 1 × gpu (pending)");
  });
});
