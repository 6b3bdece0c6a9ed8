// An action on a reservation behind a confirmation dialog (cancel, release): the button, the
// dialog naming the reservation, the API call and its error.
import { useState } from "react";
import type { Reservation } from "../api/types";
import { fmtRange } from "../lib/time";
import { ConfirmDialog } from "./ConfirmDialog";
import { ErrorNote } from "./ErrorNote";

export function ReservationAction({
  reservation,
  onDone,
  act,
  label,
  title,
  confirmLabel,
  note,
}: {
  reservation: Reservation;
  onDone: (r: Reservation) => void;
  act: (id: string) => Promise<Reservation>;
  label: string;
  title: string;
  confirmLabel: string;
  note: string;
}) {
  const [open, setOpen] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const confirm = async () => {
    setBusy(true);
    setError(null);
    try {
      const r = await act(reservation.id);
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
        {label}
      </button>
      <ConfirmDialog
        open={open}
        title={title}
        confirmLabel={confirmLabel}
        busy={busy}
        onConfirm={() => void confirm()}
        onCancel={() => setOpen(false)}
      >
        <p>
          {reservation.gpu.count} × {reservation.gpu.kind}, {fmtRange(reservation.start, reservation.end)}.
        </p>
        <p>{note}</p>
        <ErrorNote error={error} />
      </ConfirmDialog>
    </>
  );
}
