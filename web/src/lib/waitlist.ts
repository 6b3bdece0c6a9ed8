// The fair waitlist in the UI: what each entry state means, and an offer's countdown.
import type { WaitlistEntry, WaitlistState } from "../api/types";
import { fmtDuration } from "./time";

export const STATE_TEXT: Record<WaitlistState, string> = {
  WAITING: "Waiting for capacity",
  OFFERED: "Offered: held for you",
  ACCEPTED: "Accepted: booked",
  DECLINED: "Declined",
  LAPSED: "Lapsed: not answered in time",
  WITHDRAWN: "Withdrawn",
  GONE: "Ended: the window opened first",
};

/** An entry still in line or holding an offer (withdrawable). */
export const isOpen = (e: WaitlistEntry) => e.state === "WAITING" || e.state === "OFFERED";

/** Milliseconds left to answer an open offer; null when there is none, 0 once it lapsed. */
export function offerLeft(e: WaitlistEntry, now: Date): number | null {
  if (e.state !== "OFFERED" || !e.offer_until) return null;
  return Math.max(0, Date.parse(e.offer_until) - now.getTime());
}

/** "answer within 12m 05s" / "lapsed" for an offer; "" without one. */
export function offerCountdown(e: WaitlistEntry, now: Date): string {
  const left = offerLeft(e, now);
  if (left === null) return "";
  return left > 0 ? `answer within ${fmtDuration(left)}` : "lapsed";
}
