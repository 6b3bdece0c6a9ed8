// The node cache: per node, its agent's credential and last report (capacity, used, bandwidth)
// and per model the reported state with a progress bar. Everything comes from GET /cache/nodes.
import { api } from "../api/client";
import type { CacheNode } from "../api/types";
import { ErrorNote } from "../components/ErrorNote";
import { artifactDone, formatBytes } from "../lib/staging";
import { fmtStamp } from "../lib/time";
import { useLoad } from "../lib/useLoad";

function NodeCache({ node: n }: { node: CacheNode }) {
  const titleId = `cache-${n.node}`;
  const used = n.used_bytes ?? 0;
  const capacity = n.capacity_bytes ?? 0;
  return (
    <article className="card cache-node" aria-labelledby={titleId}>
      <header>
        <h3 id={titleId}>{n.node}</h3>
        <span className="muted">pools: {n.pools.join(", ") || "none"}</span>
        <span className={n.credential ? "muted" : "badge badge-failed"}>
          {n.credential
            ? `credential ${n.credential.prefix}… since ${fmtStamp(n.credential.created_at)}`
            : "no credential"}
        </span>
      </header>
      {n.reported_at === null || n.reported_at === undefined ? (
        <>
          <p className="muted">
            No report yet. Make a credential with <code>berth cache token --node {n.node}</code> and start its agent.
          </p>
          {n.missing.length > 0 && <p>Needed here by live bookings: {n.missing.join(", ")}</p>}
        </>
      ) : (
        <>
          <p className="cache-usage">
            <span>
              Used {formatBytes(used)} of {formatBytes(capacity)}
              {n.reserved_bytes ? `, ${formatBytes(n.reserved_bytes)} reserved` : ""}; bandwidth{" "}
              {n.bandwidth_bytes_per_second ? `${formatBytes(n.bandwidth_bytes_per_second)}/s` : "not measured"};
              reported {fmtStamp(n.reported_at)}
            </span>
            <progress className="bar" max={Math.max(capacity, 1)} value={used} aria-label={`Disk used on ${n.node}`} />
          </p>
          <table>
            <caption className="sr-only">Models on {n.node}</caption>
            <thead>
              <tr>
                <th scope="col">Model</th>
                <th scope="col">State</th>
                <th scope="col">Progress</th>
                <th scope="col">Bytes</th>
                <th scope="col">Needed</th>
                <th scope="col">Reason</th>
              </tr>
            </thead>
            <tbody>
              {n.models.map((a) => (
                <tr key={a.model}>
                  <td>{a.model}</td>
                  <td>
                    <span className={`cache-state cache-${a.state}`}>{a.state}</span>
                  </td>
                  <td>
                    <progress className="bar" max={100} value={a.percent} aria-label={`${a.model} on ${n.node}`} />{" "}
                    {a.percent}%
                  </td>
                  <td className="nowrap">
                    {formatBytes(artifactDone(a))} / {formatBytes(a.size_bytes)}
                  </td>
                  <td>{a.needed ? "yes" : ""}</td>
                  <td>{[a.reason, a.detail].filter(Boolean).join(": ")}</td>
                </tr>
              ))}
              {n.missing.map((m) => (
                <tr key={m}>
                  <td>{m}</td>
                  <td>
                    <span className="cache-state cache-missing">not reported</span>
                  </td>
                  <td />
                  <td />
                  <td>yes</td>
                  <td>a live booking needs it; the node has not reported it</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </article>
  );
}

export function CacheAdmin() {
  const nodes = useLoad(() => api.cacheNodes(), [], 5_000);
  return (
    <section aria-labelledby="adm-cache-title">
      <h2 id="adm-cache-title">Node cache</h2>
      <p className="muted">What each node&apos;s cache agent last reported; refreshed every 5 s.</p>
      <ErrorNote error={nodes.error} />
      {nodes.data?.length === 0 && <p>No pool has nodes.</p>}
      {nodes.data?.map((n) => (
        <NodeCache key={n.node} node={n} />
      ))}
    </section>
  );
}
