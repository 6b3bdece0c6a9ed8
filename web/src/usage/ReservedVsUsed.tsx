// GPU-hours per day as one stacked bar: used, then measured but idle, then unmeasured; the bar's
// height is what was reserved. Days with nothing reserved are empty bars.
import { Bar, BarChart, CartesianGrid, Tooltip, XAxis, YAxis } from "recharts";
import type { UsageRow } from "../api/types";
import { gpuHours } from "../lib/usage";

const SERIES = [
  { key: "used", name: "used", colour: "#1f5fbf" },
  { key: "idle", name: "idle (measured, not busy)", colour: "#e0a44a" },
  { key: "unmeasured", name: "not measured", colour: "#c7d2e0" },
] as const;

export function ReservedVsUsed({ days }: { days: UsageRow[] }) {
  const rows = days.map((d) => ({
    day: d.day ?? "",
    used: d.used_gpu_hours,
    idle: d.idle_gpu_hours,
    unmeasured: Math.max(0, d.reserved_gpu_hours - d.measured_gpu_hours),
  }));
  return (
    <figure className="tk-curve usage-figure" aria-labelledby="usage-days-title">
      <h2 id="usage-days-title">Reserved and used GPU-hours per day</h2>
      <div className="usage-chart">
        <BarChart
          responsive
          style={{ width: "100%", height: "100%" }}
          data={rows}
          margin={{ top: 10, right: 20, bottom: 8, left: 4 }}
          title="Reserved and used GPU-hours per day"
          desc="Each day's bar is its reserved GPU-hours: the part the GPUs were busy, the measured idle part, and the part without measurements."
        >
          <CartesianGrid stroke="#e3e7ed" vertical={false} />
          <XAxis dataKey="day" stroke="#5b6675" tickFormatter={(d: string) => d.slice(5)} />
          <YAxis stroke="#5b6675" width={48} />
          <Tooltip formatter={(v, name) => [`${gpuHours(Number(v))} GPU-h`, name]} />
          {SERIES.map((s) => (
            <Bar
              key={s.key}
              dataKey={s.key}
              name={s.name}
              stackId="reserved"
              fill={s.colour}
              isAnimationActive={false}
            />
          ))}
        </BarChart>
      </div>
      <figcaption>
        <ul className="tk-legend">
          {SERIES.map((s) => (
            <li key={s.key}>
              <svg width="14" height="10" aria-hidden="true">
                <rect width="14" height="10" fill={s.colour} />
              </svg>
              {s.name}
            </li>
          ))}
        </ul>
      </figcaption>
    </figure>
  );
}
