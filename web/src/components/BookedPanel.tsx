// Confirmation after a booking, with the ways to find it again.
import type { Reservation } from "../api/types";
import { fmtDateTime, fmtRange } from "../lib/time";
import { Link } from "./Link";

export function BookedPanel({ reservation }: { reservation: Reservation }) {
  const pending = reservation.status === "PENDING";
  return (
    <div className="booked" role="status">
      <h2>{pending ? "Needs approval" : "Booked"}</h2>
      <p>
        {reservation.gpu.count} × {reservation.gpu.kind} in {reservation.pool},{" "}
        {fmtRange(reservation.start, reservation.end)} ({reservation.mode}).
      </p>
      {pending && (
        <p>
          It needs a team lead&apos;s or an admin&apos;s approval ({reservation.reason}). Its capacity is held for you
          {reservation.hold_until && <> until {fmtDateTime(reservation.hold_until)}</>}; you will be told of the
          decision.
        </p>
      )}
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
