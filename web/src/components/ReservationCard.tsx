// One of my reservations: what, when, status and countdown, workspace, and its actions.
import { useState } from "react";
import type { Reservation } from "../api/types";
import { canRelease, reservationIcsPath, wasReleased } from "../lib/ics";
import { idleWarned, reclaimedBecause } from "../lib/idle";
import { waitingText } from "../lib/holds";
import { fmtRange } from "../lib/time";
import { CancelButton } from "./CancelButton";
import { Countdown } from "./Countdown";
import { ExtendForm } from "./ExtendForm";
import { IdleWarning } from "./IdleWarning";
import { ReleaseButton } from "./ReleaseButton";
import { StatusBadge } from "./StatusBadge";
import { WorkspacePanel } from "./WorkspacePanel";

export function ReservationCard({
  reservation: r,
  now,
  onChange,
}: {
  reservation: Reservation;
  now: Date;
  onChange: () => void;
}) {
  const [extending, setExtending] = useState(false);
  const live = r.status === "APPROVED" || r.status === "ACTIVE";
  const titleId = `res-${r.id}`;
  return (
    <article className="card reservation" aria-labelledby={titleId} data-status={r.status}>
      <header>
        <h3 id={titleId}>
          {r.gpu.count} × {r.gpu.kind} <span className="muted">in {r.pool}</span>
        </h3>
        <StatusBadge status={r.status} />
        <Countdown start={r.start} end={r.end} status={r.status} now={now} />
      </header>
      {waitingText(r) && (
        <p className="waiting">
          {waitingText(r)}
          {r.reason && <span className="muted"> — {r.reason}</span>}
        </p>
      )}
      {(r.status === "REJECTED" || r.status === "EXPIRED") && r.reason && (
        <p className="muted">
          {r.status === "REJECTED" ? "Rejected" : "Expired"}: {r.reason}
        </p>
      )}
      <dl className="facts">
        <div>
          <dt>When</dt>
          <dd>
            {fmtRange(r.start, r.end)}
            {wasReleased(r) && <span className="muted"> (released early)</span>}
            {reclaimedBecause(r) && <span className="muted"> ({reclaimedBecause(r)})</span>}
          </dd>
        </div>
        <div>
          <dt>Mode</dt>
          <dd>{r.mode}</dd>
        </div>
        <div>
          <dt>CPU</dt>
          <dd>{r.cpu}</dd>
        </div>
        <div>
          <dt>Memory</dt>
          <dd>{r.memory}</dd>
        </div>
        {(r.stage.engines.length > 0 || r.stage.models.length > 0) && (
          <div>
            <dt>Stage</dt>
            <dd>{[...r.stage.engines, ...r.stage.models].join(", ")}</dd>
          </div>
        )}
      </dl>
      <IdleWarning reservation={r} now={now} onChange={onChange} />
      <WorkspacePanel reservation={r} />
      {r.status === "PENDING" && (
        <div className="row-actions">
          <CancelButton reservation={r} onDone={onChange} />
        </div>
      )}
      {live && (
        <div className="row-actions">
          {!extending && (
            <button type="button" onClick={() => setExtending(true)}>
              Extend
            </button>
          )}
          {canRelease(r) ? (
            !idleWarned(r) && <ReleaseButton reservation={r} onDone={onChange} />
          ) : (
            <CancelButton reservation={r} onDone={onChange} />
          )}
        </div>
      )}
      <p className="ics-link">
        <a href={reservationIcsPath(r.id)} download={`berth-${r.id}.ics`}>
          Add to calendar (.ics)
        </a>
      </p>
      {live && extending && (
        <ExtendForm
          reservation={r}
          onDone={(updated) => {
            setExtending(false);
            if (updated) onChange();
          }}
        />
      )}
    </article>
  );
}
