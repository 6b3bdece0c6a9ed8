// Move a reservation's end later; the API applies the same capacity rules as a booking.
import { useState, type FormEvent } from "react";
import { api } from "../api/client";
import type { Reservation } from "../api/types";
import { fromLocalInput, GRID_MINUTES, HOUR_MS, toLocalInput, toUtcIso } from "../lib/time";
import { ErrorNote } from "./ErrorNote";

export function ExtendForm({
  reservation,
  onDone,
}: {
  reservation: Reservation;
  onDone: (r: Reservation | null) => void;
}) {
  const [end, setEnd] = useState(() => toLocalInput(new Date(Date.parse(reservation.end) + HOUR_MS)));
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const id = `extend-${reservation.id}`;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const d = fromLocalInput(end);
    if (!d) return;
    setBusy(true);
    setError(null);
    try {
      onDone(await api.extend(reservation.id, toUtcIso(d)));
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  return (
    <form className="inline-form extend" onSubmit={submit} noValidate>
      <label htmlFor={id}>
        New end
        <input
          id={id}
          type="datetime-local"
          step={GRID_MINUTES * 60}
          value={end}
          onChange={(e) => setEnd(e.target.value)}
        />
      </label>
      <button type="submit" className="primary" disabled={busy}>
        Extend
      </button>
      <button type="button" onClick={() => onDone(null)}>
        Close
      </button>
      <ErrorNote error={error} />
    </form>
  );
}
