// "I'm done": end an active session now, after a confirmation dialog. Unlike a cancel, the
// reservation is COMPLETED (reason "released") and the rest of its window is free at once.
import { api } from "../api/client";
import type { Reservation } from "../api/types";
import { ReservationAction } from "./ReservationAction";

export function ReleaseButton({ reservation, onDone }: { reservation: Reservation; onDone: (r: Reservation) => void }) {
  return (
    <ReservationAction
      reservation={reservation}
      onDone={onDone}
      act={(id) => api.release(id)}
      label="Release now"
      title="Release this session now?"
      confirmLabel="Release"
      note="The session ends now and the rest of the window goes back to the pool for others. The workspace and everything in it will be deleted."
    />
  );
}
