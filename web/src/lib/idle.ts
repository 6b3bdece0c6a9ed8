// Idle reclaim in the UI (docs/idle.md): the portal's way into a workspace, which records the
// first open, and what a reclaimed reservation's reason means.
import type { Reservation } from "../api/types";

/** The portal's way into a ready workspace: a redirect that records the owner's first open
 * (idle reclaim's no-show rule). */
export function openWorkspacePath(id: string): string {
  return `/api/v1/reservations/${encodeURIComponent(id)}/open`;
}

/** Why a reservation was reclaimed by the idle policy, in words; null if it was not. */
export function reclaimedBecause(r: Pick<Reservation, "status" | "reason">): string | null {
  if (r.status !== "COMPLETED") return null;
  if (r.reason === "idle") return "released: its GPUs stayed idle";
  if (r.reason === "no-show") return "released: the workspace was never opened";
  return null;
}

/** A standing idle warning: its own card section offers "Release now" then. */
export function idleWarned(r: Pick<Reservation, "status" | "idle">): boolean {
  return r.status === "ACTIVE" && !!r.idle?.reason;
}
