// Where the workspace will be. Its URL and credentials come from the reconciler once it has
// provisioned the session; until the API reports them, this says so instead of inventing any.
import type { Reservation } from "../api/types";

export function WorkspacePanel({ reservation }: { reservation: Reservation }) {
  const r = reservation;
  if (r.status === "FAILED") {
    return <p className="workspace failed">Failed: {r.reason ?? "no reason recorded"}</p>;
  }
  if (r.status === "CANCELED") {
    return <p className="workspace muted">Canceled{r.reason ? `: ${r.reason}` : ""}</p>;
  }
  if (r.status !== "APPROVED" && r.status !== "ACTIVE") return null;
  return (
    <p className="workspace waiting" role="note">
      <span className="spinner" aria-hidden="true" /> Waiting for workspace
      <span className="muted">
        {r.status === "APPROVED"
          ? " — the link and credentials appear here when the window opens and the workspace is ready."
          : " — the workspace is being prepared; the link and credentials appear here when it is ready."}
      </span>
    </p>
  );
}
