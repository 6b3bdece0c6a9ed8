// A reservation's staging: "staged", "staging 63%" with a bar, "waiting" (and until when), or
// "failed: reason" with what failed where. Computed by the API from the nodes' reports.
import type { Staging } from "../api/types";
import { stagingView } from "../lib/staging";

export function StagingStatus({ staging, models }: { staging: Staging | null | undefined; models: string[] }) {
  const v = stagingView(staging);
  if (!v) return null;
  return (
    <div className={`staging staging-${v.tone}`} role="status" aria-label={`Staging: ${v.label}`}>
      <span className="staging-label">
        Models {models.join(", ")}: <strong>{v.label}</strong>
      </span>
      {v.percent !== null && (
        <progress className="bar" max={100} value={v.percent} aria-label={`Staging ${models.join(", ")}`}>
          {v.percent}%
        </progress>
      )}
      {v.note && <span className="muted staging-note">{v.note}</span>}
    </div>
  );
}
