// Where the workspace is: waiting for the window, being prepared (step, last error), ready with
// its link and password, or being removed. Everything shown comes from the API; nothing invented.
import type { Reservation } from "../api/types";
import { api } from "../api/client";
import { openWorkspacePath } from "../lib/idle";
import { fmtTime } from "../lib/time";
import { useLoad } from "../lib/useLoad";
import { StagingStatus } from "./StagingStatus";
import { WorkspaceCredentials } from "./WorkspaceCredentials";

const WAITING = "workspace-wait"; // the reconciler's step while the workspace starts

function Preparing({ reservation }: { reservation: Reservation }) {
  // The list carries only the phase; the step and the last error come from the workspace call.
  const ws = useLoad(() => api.workspace(reservation.id), [reservation.id, reservation.updated_at], 5_000);
  const step = ws.data?.step;
  const error = ws.data?.last_error;
  const next = ws.data?.next_check_at;
  // Every wait has a budget: while the workspace starts, when it is diagnosed if still not
  // ready; after an error, when the reconciler tries again.
  const deadline = next
    ? step === WAITING
      ? `If it is not ready by ${fmtTime(next)}, it is diagnosed and set up again.`
      : `Next try at ${fmtTime(next)}.`
    : null;
  return (
    <div className="workspace waiting" role="note">
      <p>
        <span className="spinner" aria-hidden="true" /> Preparing your workspace
        {step ? <span className="muted"> — step: {step}</span> : null}
        {ws.data && ws.data.attempts > 0 ? <span className="muted"> (attempt {ws.data.attempts + 1})</span> : null}
      </p>
      {deadline && <p className="muted">{deadline}</p>}
      {error && <p className="error">Last error: {error}</p>}
    </div>
  );
}

export function WorkspacePanel({ reservation: r }: { reservation: Reservation }) {
  return (
    <>
      <StagingStatus staging={r.staging} models={r.stage.models} />
      <Workspace reservation={r} />
    </>
  );
}

function Workspace({ reservation: r }: { reservation: Reservation }) {
  if (r.status === "FAILED") {
    return <p className="workspace failed">Failed: {r.reason ?? "no reason recorded"}</p>;
  }
  if (r.status === "CANCELED") {
    return <p className="workspace muted">Canceled{r.reason ? `: ${r.reason}` : ""}</p>;
  }
  if (r.status !== "APPROVED" && r.status !== "ACTIVE") return null;
  if (r.phase === "ready" && r.workspace_url) {
    return (
      <div className="workspace ready">
        <p>
          Workspace ready:{" "}
          <a href={openWorkspacePath(r.id)} target="_blank" rel="noreferrer">
            Open workspace
          </a>{" "}
          <span className="muted">({r.workspace_url})</span>
        </p>
        <WorkspaceCredentials reservationId={r.id} />
      </div>
    );
  }
  if (r.phase === "provisioning") return <Preparing reservation={r} />;
  if (r.phase === "tearing_down" || r.phase === "gone") {
    return <p className="workspace muted">The workspace is being removed.</p>;
  }
  if (r.phase === "failed") return <Preparing reservation={r} />;
  return (
    <p className="workspace waiting" role="note">
      <span className="spinner" aria-hidden="true" /> Waiting for workspace
      <span className="muted">
        {r.status === "APPROVED"
          ? " — the link and credentials appear here when the window opens and the workspace is ready."
          : " — the link and credentials appear here when the workspace is ready."}
      </span>
    </p>
  );
}
