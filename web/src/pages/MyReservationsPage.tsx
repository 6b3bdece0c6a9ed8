// My reservations: live ones first with countdowns and actions, then the history.
import { useEffect, useState } from "react";
import { api } from "../api/client";
import { CalendarFeedPanel } from "../components/CalendarFeedPanel";
import { NotificationPreferencesPanel } from "../components/NotificationPreferencesPanel";
import { ErrorNote } from "../components/ErrorNote";
import { Link } from "../components/Link";
import { ReservationCard } from "../components/ReservationCard";
import { isUpcoming } from "../lib/holds";
import { useLoad } from "../lib/useLoad";
import { useNow } from "../lib/useNow";

// upcoming: live, or PENDING (waiting for approval or a waitlist answer, holding its capacity)
const isLive = isUpcoming;

export function MyReservationsPage() {
  const [fast, setFast] = useState(false);
  // Poll faster while a workspace is being prepared or a window has opened without one.
  const list = useLoad(() => api.reservations({ mine: true, limit: 1000 }), [], fast ? 5_000 : 15_000);
  const now = useNow(1000);
  const all = list.data ?? [];
  const live = all.filter(isLive);
  // ... and while a reservation's models are being staged on its nodes.
  const waiting = live.some(
    (r) =>
      r.phase === "provisioning" ||
      r.staging?.state === "staging" ||
      (r.phase !== "ready" && Date.parse(r.start) <= now.getTime()),
  );
  useEffect(() => setFast(waiting), [waiting]);
  const past = all
    .filter((r) => !isLive(r))
    .reverse()
    .slice(0, 30);

  return (
    <section aria-labelledby="mine-title">
      <h1 id="mine-title">My reservations</h1>
      <ErrorNote error={list.error} />
      {!list.data && !list.error && <p role="status">Loading…</p>}
      <h2>Upcoming and active</h2>
      {list.data && live.length === 0 && (
        <p>
          Nothing booked. <Link href="/book">Book GPU capacity</Link> or look at the{" "}
          <Link href="/availability">availability</Link>.
        </p>
      )}
      <div className="cards">
        {live.map((r) => (
          <ReservationCard key={r.id} reservation={r} now={now} onChange={list.reload} />
        ))}
      </div>
      {past.length > 0 && (
        <>
          <h2>History</h2>
          <div className="cards">
            {past.map((r) => (
              <ReservationCard key={r.id} reservation={r} now={now} onChange={list.reload} />
            ))}
          </div>
        </>
      )}
      <CalendarFeedPanel />
      <NotificationPreferencesPanel />
    </section>
  );
}
