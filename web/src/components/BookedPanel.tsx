// Confirmation after a booking, with the ways to find it again.
import type { Reservation } from "../api/types";
import { fmtRange } from "../lib/time";
import { Link } from "./Link";

export function BookedPanel({ reservation }: { reservation: Reservation }) {
  return (
    <div className="booked" role="status">
      <h2>Booked</h2>
      <p>
        {reservation.gpu.count} × {reservation.gpu.kind} in {reservation.pool},{" "}
        {fmtRange(reservation.start, reservation.end)} ({reservation.mode}).
      </p>
      <p className="row-actions">
        <Link className="button" href={`/calendar?date=${encodeURIComponent(reservation.start)}`}>
          See it on the calendar
        </Link>
        <Link className="button" href="/reservations">
          My reservations
        </Link>
      </p>
    </div>
  );
}
