// While `berth up --sim` builds or starts the local control plane behind the portal, say so on
// every page: bookings are taken now and open once the reconciler joins.
import { api } from "../api/client";
import type { ControlPlaneStatus } from "../api/types";
import { fmtDuration } from "../lib/time";
import { useLoad } from "../lib/useLoad";

export function controlPlaneText(cp: ControlPlaneStatus): string | null {
  switch (cp.state) {
    case "building": {
      const left = cp.remaining_seconds != null ? `, about ${fmtDuration(cp.remaining_seconds * 1000)} left` : "";
      return `The local Kubernetes control plane is being built (${cp.percent ?? 0}%${left}${
        cp.step ? `: ${cp.step}` : ""
      }). Bookings are taken now; workspaces open once it is up.`;
    }
    case "starting":
      return "The local Kubernetes control plane is starting. Workspaces open once it is up.";
    case "failed":
      return `The local Kubernetes control plane did not come up: ${cp.error ?? "see the terminal"}.`;
    default:
      return null;
  }
}

export function ControlPlaneBanner() {
  const status = useLoad(() => api.status(), [], 10_000);
  const cp = status.data?.control_plane;
  const text = cp ? controlPlaneText(cp) : null;
  if (!cp || !text) return null;
  return (
    <div className={cp.state === "failed" ? "banner banner-error" : "banner"} role="status">
      <p>{text}</p>
      {cp.state === "building" && (
        <progress max={100} value={cp.percent ?? 0} aria-label="Control plane build progress" />
      )}
    </div>
  );
}
