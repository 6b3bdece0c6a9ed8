// What a PENDING reservation waits for, in words: "waiting for approval until …" (docs/teams.md).
import type { Reservation } from "../api/types";
import { fmtDateTime } from "./time";

type Held = Pick<Reservation, "status" | "hold_kind" | "hold_until">;

/** The line a PENDING reservation shows; null for every other status. */
export function waitingText(r: Held, format: (t: string) => string = fmtDateTime): string | null {
  if (r.status !== "PENDING" || !r.hold_until) return null;
  const what = r.hold_kind === "offer" ? "Waiting for your answer" : "Waiting for approval";
  return `${what} until ${format(r.hold_until)}`;
}

/** Live or PENDING: listed with the upcoming reservations (a PENDING one holds its capacity). */
export function isUpcoming(r: Pick<Reservation, "status">): boolean {
  return r.status === "APPROVED" || r.status === "ACTIVE" || r.status === "PENDING";
}
