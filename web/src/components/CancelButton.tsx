// Cancel a reservation after a confirmation dialog.
import { useState } from "react";
import { api } from "../api/client";
import type { Reservation } from "../api/types";
import { fmtRange } from "../lib/time";
import { ConfirmDialog } from "./ConfirmDialog";
import { ErrorNote } from "./ErrorNote";

export function CancelButton({ reservation, onDone }: { reservation: Reservation; onDone: (r: Reservation) => void }) {
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const active = reservation.status === "ACTIVE";

  const confirm = async () => {
    setBusy(true);
    setError(null);
    try {
      const r = await api.cancel(reservation.id);
      setOpen(false);
      onDone(r);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <button type="button" className="danger" onClick={() => setOpen(true)}>
        {active ? "End now" : "Cancel"}
      </button>
      <ConfirmDialog
        open={open}
        title={active ? "End this session now?" : "Cancel this reservation?"}
        confirmLabel={active ? "End session" : "Cancel reservation"}
        busy={busy}
        onConfirm={() => void confirm()}
        onCancel={() => setOpen(false)}
      >
        <p>
          {reservation.gpu.count} × {reservation.gpu.kind}, {fmtRange(reservation.start, reservation.end)}.
        </p>
        <p>{active ? "The workspace and everything in it will be deleted." : "The capacity goes back to the pool."}</p>
        <ErrorNote error={error} />
      </ConfirmDialog>
    </>
  );
}
