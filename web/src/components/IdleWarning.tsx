// An idle warning on a running reservation (docs/idle.md): why, when it will be released, and
// the two answers, "Keep it" and "Release now". A keep shows until it runs out.
import { useState } from "react";
import { api } from "../api/client";
import type { Reservation } from "../api/types";
import { fmtTime } from "../lib/time";
import { ErrorNote } from "./ErrorNote";
import { ReleaseButton } from "./ReleaseButton";

const WHY = {
  idle: "Its GPUs have stayed idle",
  "no-show": "Its workspace has not been opened since it started",
} as const;

export function IdleWarning({
  reservation: r,
  now,
  onChange,
}: {
  reservation: Reservation;
  now: Date;
  onChange: () => void;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const idle = r.idle;
  if (r.status !== "ACTIVE" || !idle) return null;
  if (!idle.reason || !idle.release_at) {
    if (idle.keep_until && new Date(idle.keep_until) > now) {
      return <p className="muted idle-kept">Kept: no idle release before {fmtTime(idle.keep_until)}.</p>;
    }
    return null;
  }
  const keep = async () => {
    setBusy(true);
    setError(null);
    try {
      await api.keep(r.id);
      onChange();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const titleId = `idle-${r.id}`;
  return (
    <div className="idle-warning" role="alert" aria-labelledby={titleId}>
      <p id={titleId}>
        <strong>{WHY[idle.reason]}.</strong> It will be released at {fmtTime(idle.release_at)} unless you keep it or use
        it.
      </p>
      <div className="row-actions">
        <button type="button" onClick={() => void keep()} disabled={busy}>
          Keep it
        </button>
        <ReleaseButton reservation={r} onDone={onChange} />
      </div>
      <ErrorNote error={error} />
    </div>
  );
}
