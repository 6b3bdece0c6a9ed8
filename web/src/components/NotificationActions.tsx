// What a message offers, as buttons: release (the shared confirmed action), extend (the
// reservation's extend form), keep (acknowledge an idle warning), open the workspace.
import { useState } from "react";
import { api } from "../api/client";
import type { Notification, Reservation } from "../api/types";
import { openWorkspacePath } from "../lib/idle";
import { useLoad } from "../lib/useLoad";
import { ErrorNote } from "./ErrorNote";
import { ExtendForm } from "./ExtendForm";
import { ReleaseButton } from "./ReleaseButton";

export function NotificationActions({ item, onChanged }: { item: Notification; onChanged: () => void }) {
  const rid = item.reservation_id;
  const wanted = rid != null && item.actions.length > 0; // only messages that offer something
  const reservation = useLoad(() => (wanted ? api.reservation(rid) : Promise.resolve(null)), [rid, wanted]);
  const [extending, setExtending] = useState(false);
  const [kept, setKept] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const r = reservation.data;
  if (!rid || item.actions.length === 0) return null;
  const live = r != null && (r.status === "ACTIVE" || r.status === "APPROVED");

  const run = async (what: () => Promise<unknown>) => {
    setError(null);
    try {
      await what();
      onChanged();
    } catch (err) {
      setError(err);
    }
  };
  const keep = () =>
    run(async () => {
      await api.keep(rid);
      setKept(true);
    });
  // through the portal, which records the first open (idle reclaim's no-show rule)
  const open = () => run(async () => void window.open(openWorkspacePath(rid), "_blank", "noopener"));
  const done = (_: Reservation | null) => {
    setExtending(false);
    reservation.reload();
    onChanged();
  };

  return (
    <div className="notification-actions">
      <div className="row-actions">
        {item.actions.includes("extend") && live && (
          <button type="button" onClick={() => setExtending((e) => !e)} aria-expanded={extending}>
            Extend…
          </button>
        )}
        {item.actions.includes("release") && r && r.status === "ACTIVE" && (
          <ReleaseButton reservation={r} onDone={done} />
        )}
        {item.actions.includes("keep") && live && (
          <button type="button" disabled={kept} onClick={() => void keep()}>
            {kept ? "Kept" : "Keep"}
          </button>
        )}
        {item.actions.includes("open") && r?.status === "ACTIVE" && (
          <button type="button" onClick={() => void open()}>
            Open workspace
          </button>
        )}
        {r && !live && <span className="muted">This reservation is {r.status.toLowerCase()}.</span>}
      </div>
      {extending && r && <ExtendForm reservation={r} onDone={done} />}
      <ErrorNote error={error ?? reservation.error} />
    </div>
  );
}
