// "I'm done": end an active session now, after a confirmation dialog. Unlike a cancel, the
// reservation is COMPLETED (reason "released") and the rest of its window is free at once.
import { useState } from "react";
import { api } from "../api/client";
import type { Reservation } from "../api/types";
import { fmtRange } from "../lib/time";
import { ConfirmDialog } from "./ConfirmDialog";
import { ErrorNote } from "./ErrorNote";

export function ReleaseButton({ reservation, onDone }: { reservation: Reservation; onDone: (r: Reservation) => void }) {
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const confirm = async () => {
    setBusy(true);
    setError(null);
    try {
      const r = await api.release(reservation.id);
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
        Release now
      </button>
      <ConfirmDialog
        open={open}
        title="Release this session now?"
        confirmLabel="Release"
        busy={busy}
        onConfirm={() => void confirm()}
        onCancel={() => setOpen(false)}
      >
        <p>
          {reservation.gpu.count} × {reservation.gpu.kind}, {fmtRange(reservation.start, reservation.end)}.
        </p>
        <p>
          The session ends now and the rest of the window goes back to the pool for others. The workspace and everything
          in it will be deleted.
        </p>
        <ErrorNote error={error} />
      </ConfirmDialog>
    </>
  );
}
