// The bookings that held the most GPU-hours idle (measured, unused), most idle first.
import { Bar, BarChart, CartesianGrid, Tooltip, XAxis, YAxis } from "recharts";
import type { UsageSession } from "../api/types";
import { gpuHours, sessionLabel, share } from "../lib/usage";

export function TopIdle({ sessions }: { sessions: UsageSession[] }) {
  const rows = sessions
    .filter((s) => s.idle_gpu_hours > 0)
    .slice(0, 8)
    .map((s) => ({ label: sessionLabel(s), idle: s.idle_gpu_hours, share: s.idle_share }));
  return (
    <figure className="tk-curve usage-figure" aria-labelledby="usage-idle-title">
      <h2 id="usage-idle-title">Most idle bookings</h2>
      {rows.length === 0 ? (
        <p className="muted">No measured idle time in this period.</p>
      ) : (
        <>
          <div className="usage-chart" style={{ height: `${60 + rows.length * 34}px` }}>
            <BarChart
              responsive
              layout="vertical"
              style={{ width: "100%", height: "100%" }}
              data={rows}
              margin={{ top: 4, right: 20, bottom: 4, left: 4 }}
              title="Most idle bookings"
              desc="Idle GPU-hours of each booking: measured time the GPUs were not busy."
            >
              <CartesianGrid stroke="#e3e7ed" horizontal={false} />
              <XAxis type="number" stroke="#5b6675" />
              <YAxis type="category" dataKey="label" width={190} stroke="#5b6675" tick={{ fontSize: 12 }} />
              <Tooltip formatter={(v) => [`${gpuHours(Number(v))} idle GPU-h`, "idle"]} />
              <Bar dataKey="idle" name="idle GPU-hours" fill="#c26a00" isAnimationActive={false} />
            </BarChart>
          </div>
          <figcaption>
            <ol className="usage-list">
              {rows.map((r) => (
                <li key={r.label}>
                  {r.label}: {gpuHours(r.idle)} idle GPU-hours ({share(r.share)} of measured time)
                </li>
              ))}
            </ol>
          </figcaption>
        </>
      )}
    </figure>
  );
}
