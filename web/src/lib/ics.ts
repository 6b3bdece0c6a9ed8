// iCalendar links: one reservation's .ics download and the private feed's subscribe link.
import type { Reservation } from "../api/types";

/** The download path of one reservation as an .ics file (the session cookie authenticates). */
export function reservationIcsPath(id: string): string {
  return `/api/v1/reservations/${encodeURIComponent(id)}.ics`;
}

/** The feed URL as a `webcal:` link, which calendar apps open as a subscription. */
export function webcalUrl(url: string): string {
  return url.replace(/^https?:\/\//i, "webcal://");
}

/** Only a running session can be released ("I'm done"); one not started is canceled. */
export function canRelease(r: Pick<Reservation, "status">): boolean {
  return r.status === "ACTIVE";
}

/** What the history says of a reservation that ended early by its holder's release. */
export function wasReleased(r: Pick<Reservation, "status" | "reason">): boolean {
  return r.status === "COMPLETED" && r.reason === "released";
}
