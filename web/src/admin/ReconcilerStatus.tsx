// The reconciler as the API knows it (GET /api/v1/status): alive or not, which cluster, sessions.
import { api } from "../api/client";
import type { ClusterStatus, ComponentStatus } from "../api/types";
import { ErrorNote } from "../components/ErrorNote";
import { fmtDuration, fmtStamp } from "../lib/time";
import { useLoad } from "../lib/useLoad";

const BADGE: Record<ComponentStatus["state"], string> = {
  running: "badge badge-active",
  failing: "badge badge-failed",
  stale: "badge badge-canceled",
  "never seen": "badge badge-completed",
  off: "badge badge-completed",
};

function detail(details: Record<string, unknown>, key: string): string | null {
  const v = details[key];
  if (v === undefined || v === null) return null;
  return typeof v === "string" ? v : JSON.stringify(v);
}

function sessionsText(d: Record<string, unknown>): string | null {
  const sessions = d.sessions as Record<string, number> | undefined;
  if (!sessions) return null;
  return (
    Object.entries(sessions)
      .map(([phase, n]) => `${n} ${phase}`)
      .join(", ") || "none"
  );
}

/** One row per cluster of the pool file: its reconciler's state, last cycle, waiting sessions
 * and error, so an unreachable cluster (its sessions wait) stands out beside the others. */
export function ClustersTable({ clusters }: { clusters: ClusterStatus[] }) {
  return (
    <>
      <h3>Clusters</h3>
      <table>
        <caption className="sr-only">Each cluster's reconciler</caption>
        <thead>
          <tr>
            <th scope="col">Cluster</th>
            <th scope="col">State</th>
            <th scope="col">Pools</th>
            <th scope="col">Last cycle</th>
            <th scope="col">Sessions</th>
            <th scope="col">Waiting</th>
            <th scope="col">Error</th>
          </tr>
        </thead>
        <tbody>
          {clusters.map((c) => {
            const d = (c.details ?? {}) as Record<string, unknown>;
            return (
              <tr key={c.name}>
                <th scope="row">{c.name}</th>
                <td>
                  <span className={BADGE[c.state]}>{c.state}</span>
                </td>
                <td>{(c.pools ?? []).join(", ") || "none"}</td>
                <td>{c.last_seen ? `${fmtDuration((c.age_seconds ?? 0) * 1000)} ago` : "never"}</td>
                <td>{sessionsText(d) ?? ""}</td>
                <td>{c.waiting ?? 0}</td>
                <td className="wrap">{detail(d, "error") ?? ""}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </>
  );
}

export function ReconcilerStatus() {
  const status = useLoad(() => api.status(), [], 15_000);
  const rec = status.data?.reconciler;
  if (!rec) return <ErrorNote error={status.error} />;
  const clusters = status.data?.clusters ?? [];
  const d = (rec.details ?? {}) as Record<string, unknown>;
  const sessions = d.sessions as Record<string, number> | undefined;
  const rows: [string, string | null][] = [
    ["Cluster", detail(d, "cluster")],
    [
      "Last cycle",
      rec.last_seen ? `${fmtStamp(rec.last_seen)} (${fmtDuration((rec.age_seconds ?? 0) * 1000)} ago)` : null,
    ],
    ["Cycle time", d.cycle_seconds !== undefined ? `${detail(d, "cycle_seconds")} s` : null],
    [
      "Sessions",
      sessions
        ? Object.entries(sessions)
            .map(([phase, n]) => `${n} ${phase}`)
            .join(", ") || "none"
        : null,
    ],
    ["Next start or end", d.next_event ? fmtStamp(String(d.next_event)) : null],
    ["Error", detail(d, "error")],
  ];
  return (
    <>
      <h3>Reconciler</h3>
      <p>
        <span className={BADGE[rec.state]}>{rec.state}</span>
      </p>
      <DetailTable caption="Reconciler status" rows={rows} />
      {clusters.some((c) => c.name !== "default") && <ClustersTable clusters={clusters} />}
      {status.data?.activity && <ActivityStatus activity={status.data.activity} />}
      <ErrorNote error={status.error} />
    </>
  );
}

// The measured GPU activity behind idle reclaim (docs/idle.md): off without BERTH_PROMETHEUS_URL.
function ActivityStatus({ activity }: { activity: ComponentStatus }) {
  const d = (activity.details ?? {}) as Record<string, unknown>;
  const rows: [string, string | null][] = [
    [
      "Prometheus",
      activity.state === "off"
        ? "not set (BERTH_PROMETHEUS_URL): nothing is measured or reclaimed"
        : detail(d, "prometheus"),
    ],
    ["Last sample", activity.last_seen ? fmtStamp(activity.last_seen) : null],
    ["Sessions measured", activity.state === "off" ? null : detail(d, "sessions")],
    ["Query time", d.query_seconds != null ? `${detail(d, "query_seconds")} s` : null],
    ["Error", detail(d, "error")],
  ];
  return (
    <>
      <h3>GPU activity and idle reclaim</h3>
      <p>
        <span className={BADGE[activity.state]}>{activity.state}</span>
      </p>
      <DetailTable caption="GPU activity collection" rows={rows} />
    </>
  );
}

function DetailTable({ caption, rows }: { caption: string; rows: [string, string | null][] }) {
  return (
    <table>
      <caption className="sr-only">{caption}</caption>
      <tbody>
        {rows
          .filter(([, v]) => v !== null)
          .map(([k, v]) => (
            <tr key={k}>
              <th scope="row">{k}</th>
              <td className="wrap">{v}</td>
            </tr>
          ))}
      </tbody>
    </table>
  );
}
