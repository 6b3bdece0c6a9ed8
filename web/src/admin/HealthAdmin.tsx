// Health as the API reports it: /readyz (each check by name) and the reconciler's heartbeat
// from /api/v1/status. Nothing here is inferred.
import { api } from "../api/client";
import { ErrorNote } from "../components/ErrorNote";
import { ReconcilerStatus } from "./ReconcilerStatus";
import { fmtStamp } from "../lib/time";
import { useLoad } from "../lib/useLoad";

export function HealthAdmin() {
  const health = useLoad(() => api.readyz().then((h) => ({ ...h, at: new Date() })), [], 15_000);
  const h = health.data;
  return (
    <section aria-labelledby="adm-health-title">
      <h2 id="adm-health-title">Health</h2>
      <ErrorNote error={health.error} />
      {h && (
        <>
          <p>
            API readiness:{" "}
            <span className={h.status === "ok" ? "badge badge-active" : "badge badge-failed"}>{h.status}</span>{" "}
            <span className="muted">checked {fmtStamp(h.at)}, every 15 s</span>
          </p>
          <table>
            <caption className="sr-only">Readiness checks</caption>
            <thead>
              <tr>
                <th scope="col">Check</th>
                <th scope="col">Result</th>
              </tr>
            </thead>
            <tbody>
              {Object.entries(h.checks ?? {}).map(([name, result]) => (
                <tr key={name}>
                  <td>{name}</td>
                  <td>{result}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <ReconcilerStatus />
        </>
      )}
    </section>
  );
}
