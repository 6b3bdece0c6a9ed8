// Cancel a reservation after a confirmation dialog.
import { api } from "../api/client";
import type { Reservation } from "../api/types";
import { ReservationAction } from "./ReservationAction";

export function CancelButton({ reservation, onDone }: { reservation: Reservation; onDone: (r: Reservation) => void }) {
  const active = reservation.status === "ACTIVE";
  return (
    <ReservationAction
      reservation={reservation}
      onDone={onDone}
      act={(id) => api.cancel(id)}
      label={active ? "End now" : "Cancel"}
      title={active ? "End this session now?" : "Cancel this reservation?"}
      confirmLabel={active ? "End session" : "Cancel reservation"}
      note={active ? "The workspace and everything in it will be deleted." : "The capacity goes back to the pool."}
    />
  );
}
