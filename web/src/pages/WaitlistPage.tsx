// My waitlist: requests that did not fit, waiting for capacity; an offer with Accept/Decline
// and the time left to answer it (docs/teams.md, "Fair waitlist").
import { useState } from "react";
import { api } from "../api/client";
import type { WaitlistEntry } from "../api/types";
import { ErrorNote } from "../components/ErrorNote";
import { Link } from "../components/Link";
import { fmtRange } from "../lib/time";
import { useLoad } from "../lib/useLoad";
import { useNow } from "../lib/useNow";
import { isOpen, offerCountdown, offerLeft, STATE_TEXT } from "../lib/waitlist";

export function WaitlistPage() {
  const list = useLoad(() => api.waitlist(), [], 10_000);
  const now = useNow(1000);
  const all = list.data ?? [];
  const open = all.filter(isOpen);
  const settled = all.filter((e) => !isOpen(e)).slice(0, 30);
  return (
    <section aria-labelledby="waitlist-title">
      <h1 id="waitlist-title">Waitlist</h1>
      <p>
        A booking that did not fit can wait here. When capacity frees, waiting requests that fit are offered in order of
        their team's recent usage (least first), and an offer is held for you for a short time.
      </p>
      <ErrorNote error={list.error} />
      {!list.data && !list.error && <p role="status">Loading…</p>}
      <h2>Waiting and offered</h2>
      {list.data && open.length === 0 && (
        <p>
          Nothing waiting. <Link href="/book">Book GPU capacity</Link>; a refused booking can join the waitlist.
        </p>
      )}
      <div className="cards">
        {open.map((e) => (
          <WaitlistCard key={e.id} entry={e} now={now} onChange={list.reload} />
        ))}
      </div>
      {settled.length > 0 && (
        <>
          <h2>History</h2>
          <div className="cards">
            {settled.map((e) => (
              <WaitlistCard key={e.id} entry={e} now={now} onChange={list.reload} />
            ))}
          </div>
        </>
      )}
    </section>
  );
}

function WaitlistCard({ entry, now, onChange }: { entry: WaitlistEntry; now: Date; onChange: () => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const act = async (run: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await run();
      onChange();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const left = offerLeft(entry, now);
  const answerable = left !== null && left > 0;
  return (
    <article className="card" aria-labelledby={`wl-${entry.id}`}>
      <h3 id={`wl-${entry.id}`}>
        {entry.gpu.count} × {entry.gpu.kind} in {entry.pool}
      </h3>
      <p>{fmtRange(entry.start, entry.end)}</p>
      <p>
        <strong>{STATE_TEXT[entry.state]}</strong>
        {entry.team && <> · team {entry.team}</>}
        {left !== null && (
          <>
            {" "}
            · <span className="countdown">{offerCountdown(entry, now)}</span>
          </>
        )}
      </p>
      {entry.reason && entry.state !== "OFFERED" && <p>{entry.reason}</p>}
      <ErrorNote error={error} />
      <div className="actions">
        {answerable && (
          <>
            <button
              type="button"
              className="primary"
              disabled={busy}
              onClick={() => act(() => api.acceptOffer(entry.id))}
            >
              Accept
            </button>
            <button type="button" disabled={busy} onClick={() => act(() => api.declineOffer(entry.id))}>
              Decline
            </button>
          </>
        )}
        {isOpen(entry) && (
          <button type="button" disabled={busy} onClick={() => act(() => api.withdrawWaitlist(entry.id))}>
            Leave the waitlist
          </button>
        )}
        {entry.state === "ACCEPTED" && <Link href="/reservations">See it in My reservations</Link>}
      </div>
    </article>
  );
}
