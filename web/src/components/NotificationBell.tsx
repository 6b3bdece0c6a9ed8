// The bell in the top bar: the unread count, and the list of messages with their actions.
import { useEffect, useId, useRef, useState } from "react";
import { api } from "../api/client";
import type { Notification } from "../api/types";
import { badge } from "../lib/notifications";
import { fmtDateTime } from "../lib/time";
import { useLoad } from "../lib/useLoad";
import { ErrorNote } from "./ErrorNote";
import { NotificationActions } from "./NotificationActions";

const POLL_MS = 30_000;

export function NotificationBell() {
  const list = useLoad(() => api.notifications(), [], POLL_MS);
  const [open, setOpen] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const panelId = useId();
  const root = useRef<HTMLDivElement>(null);
  const unread = list.data?.unread ?? 0;

  useEffect(() => {
    if (!open) return;
    const onKey = (e: KeyboardEvent) => e.key === "Escape" && setOpen(false);
    const onClick = (e: MouseEvent) => {
      if (root.current && !root.current.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener("keydown", onKey);
    document.addEventListener("mousedown", onClick);
    return () => {
      document.removeEventListener("keydown", onKey);
      document.removeEventListener("mousedown", onClick);
    };
  }, [open]);

  const mark = async (call: () => Promise<unknown>) => {
    setError(null);
    try {
      await call();
      list.reload();
    } catch (err) {
      setError(err);
    }
  };

  return (
    <div className="bell" ref={root}>
      <button
        type="button"
        className="bell-button"
        aria-expanded={open}
        aria-controls={panelId}
        aria-label={unread ? `Notifications, ${unread} unread` : "Notifications"}
        onClick={() => setOpen((o) => !o)}
      >
        <svg className="bell-icon" viewBox="0 0 24 24" width="20" height="20" aria-hidden="true">
          <path
            d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22zm7-6V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-2 2v1h18v-1l-2-2z"
            fill="currentColor"
          />
        </svg>
        {unread > 0 && (
          <span className="bell-count" aria-hidden="true">
            {badge(unread)}
          </span>
        )}
      </button>
      {open && (
        <section id={panelId} className="bell-panel" aria-label="Notifications">
          <header className="bell-head">
            <h2>Notifications</h2>
            <button
              type="button"
              className="link-button"
              disabled={unread === 0}
              onClick={() => void mark(() => api.markAllNotificationsRead())}
            >
              Mark all read
            </button>
          </header>
          <ErrorNote error={list.error ?? error} />
          {list.data && list.data.items.length === 0 && <p className="muted">No messages yet.</p>}
          <ul className="bell-list">
            {list.data?.items.map((n) => (
              <Item
                key={n.id}
                item={n}
                onRead={() => void mark(() => api.markNotificationRead(n.id))}
                onChanged={list.reload}
              />
            ))}
          </ul>
        </section>
      )}
    </div>
  );
}

function Item({ item, onRead, onChanged }: { item: Notification; onRead: () => void; onChanged: () => void }) {
  const unread = item.read_at == null;
  return (
    <li className={unread ? "bell-item unread" : "bell-item"} data-kind={item.kind}>
      <div className="bell-item-head">
        <strong>{item.title}</strong>
        <time dateTime={item.created_at}>{fmtDateTime(item.created_at)}</time>
      </div>
      <p>{item.body}</p>
      <NotificationActions item={item} onChanged={onChanged} />
      {unread && (
        <button type="button" className="link-button" onClick={onRead}>
          Mark read
        </button>
      )}
    </li>
  );
}
