// The private calendar feed: make its URL (shown once), copy or subscribe, revoke it.
import { useState } from "react";
import { api } from "../api/client";
import type { CalendarFeedCreated } from "../api/types";
import { webcalUrl } from "../lib/ics";
import { fmtDateTime } from "../lib/time";
import { useLoad } from "../lib/useLoad";
import { ConfirmDialog } from "./ConfirmDialog";
import { ErrorNote } from "./ErrorNote";

export function CalendarFeedPanel() {
  const feed = useLoad(() => api.calendarFeed(), []);
  const [made, setMade] = useState<CalendarFeedCreated | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [revoking, setRevoking] = useState(false);
  const [copied, setCopied] = useState(false);

  const act = async (what: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await what();
      feed.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const create = () =>
    act(async () => {
      setMade(await api.createCalendarFeed());
      setCopied(false);
    });
  const revoke = () =>
    act(async () => {
      await api.revokeCalendarFeed();
      setMade(null);
      setRevoking(false);
    });
  const copy = async () => {
    if (!made) return;
    await navigator.clipboard.writeText(made.url);
    setCopied(true);
  };
  const active = feed.data?.active ?? false;

  return (
    <section className="card calendar-feed" aria-labelledby="feed-title">
      <h2 id="feed-title">Calendar feed</h2>
      <p>
        A private address your calendar app subscribes to: your reservations of the last 30 days and ahead, kept up to
        date. Anyone with the address can read them; revoke it if it leaks.
      </p>
      <ErrorNote error={feed.error ?? error} />
      {made && (
        <div className="feed-url">
          <label htmlFor="feed-url">Feed URL (shown once, copy it now)</label>
          <input id="feed-url" readOnly value={made.url} onFocus={(e) => e.currentTarget.select()} />
          <div className="row-actions">
            <button type="button" onClick={() => void copy()}>
              {copied ? "Copied" : "Copy"}
            </button>
            <a href={webcalUrl(made.url)}>Subscribe</a>
          </div>
        </div>
      )}
      {!made && active && feed.data?.created_at && (
        <p role="status">You have a feed, made {fmtDateTime(feed.data.created_at)}.</p>
      )}
      <div className="row-actions">
        <button type="button" disabled={busy || feed.loading} onClick={() => void create()}>
          {active ? "New feed URL" : "Create feed URL"}
        </button>
        {active && (
          <button type="button" className="danger" disabled={busy} onClick={() => setRevoking(true)}>
            Revoke
          </button>
        )}
      </div>
      <ConfirmDialog
        open={revoking}
        title="Revoke the calendar feed?"
        confirmLabel="Revoke feed"
        busy={busy}
        onConfirm={() => void revoke()}
        onCancel={() => setRevoking(false)}
      >
        <p>Calendar apps subscribed to it stop getting your reservations.</p>
      </ConfirmDialog>
    </section>
  );
}
