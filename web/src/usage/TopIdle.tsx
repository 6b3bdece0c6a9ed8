// The bookings that held the most GPU-hours idle (measured, unused), most idle first.
import type { UsageSession } from "../api/types";
import { gpuHours, sessionLabel, share } from "../lib/usage";
import { HorizontalBars } from "./HorizontalBars";

export function TopIdle({ sessions }: { sessions: UsageSession[] }) {
  const rows = sessions
    .filter((s) => s.idle_gpu_hours > 0)
    .slice(0, 8)
    .map((s) => ({ label: sessionLabel(s), value: s.idle_gpu_hours, share: s.idle_share, id: s.id }));
  return (
    <figure className="tk-curve usage-figure" aria-labelledby="usage-idle-title">
      <h2 id="usage-idle-title">Most idle bookings</h2>
      {rows.length === 0 ? (
        <p className="muted">No measured idle time in this period.</p>
      ) : (
        <>
          <HorizontalBars
            rows={rows}
            title="Most idle bookings"
            desc="Idle GPU-hours of each booking: measured time the GPUs were not busy."
            colour="#c26a00"
            labelWidth={190}
            format={(v) => `${gpuHours(v)} idle GPU-h`}
          />
          <figcaption>
            <ol className="usage-list">
              {rows.map((r) => (
                <li key={r.id}>
                  {r.label}: {gpuHours(r.value)} idle GPU-hours ({share(r.share)} of measured time)
                </li>
              ))}
            </ol>
          </figcaption>
        </>
      )}
    </figure>
  );
}
