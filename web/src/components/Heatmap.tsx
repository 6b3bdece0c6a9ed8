// Free capacity per resource over time, one row per GPU kind, CPU and memory: read at a glance.
import type { Availability } from "../api/types";
import { minFree } from "../lib/fit";
import { fmtAmount, fmtGiB, resourceLabel } from "../lib/quantity";
import { fmtDateTime, fmtTime } from "../lib/time";

interface Props {
  availability: Availability;
  rows: string[];
  bucketMs: number;
}

const dayLabel = new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric" });

function capacityText(resource: string, cap: number): string {
  if (resource === "cpu") return `${cap} cores`;
  if (resource === "memory_bytes") return fmtGiB(cap);
  return cap === 1 ? "1 unit" : `${cap} units`;
}

function cellColor(fraction: number): string {
  if (fraction <= 0) return "var(--full)";
  return `color-mix(in srgb, var(--free) ${Math.round(15 + 85 * fraction)}%, var(--free-pale))`;
}

export function Heatmap({ availability, rows, bucketMs }: Props) {
  const start = Date.parse(availability.start);
  const end = Date.parse(availability.end);
  const buckets: { start: number; end: number; free: Record<string, number> }[] = [];
  for (let t = start; t < end; t += bucketMs) {
    const e = Math.min(t + bucketMs, end);
    buckets.push({ start: t, end: e, free: minFree(availability.steps, t, e) });
  }
  const days: { label: string; span: number }[] = [];
  for (const b of buckets) {
    const label = dayLabel.format(new Date(b.start));
    const last = days[days.length - 1];
    if (last && last.label === label) last.span += 1;
    else days.push({ label, span: 1 });
  }
  // Hour ticks where they fit: every 6 h for hourly cells, every 12 h for 3-hour cells.
  const bucketHours = bucketMs / 3_600_000;
  const tickEvery = bucketHours <= 1 ? 6 : bucketHours <= 3 ? 12 : 0;
  const columns = `minmax(6.5rem, 9rem) repeat(${buckets.length}, minmax(3px, 1fr))`;
  return (
    <figure className="heatmap">
      <div
        className="hm-grid"
        style={{ gridTemplateColumns: columns }}
        role="img"
        aria-label={`Free capacity of pool ${availability.pool} from ${fmtDateTime(availability.start)} to ${fmtDateTime(availability.end)}; the list of free slots below gives the same information in words.`}
      >
        <div className="hm-corner" />
        {days.map((d, i) => (
          <div key={i} className="hm-day" style={{ gridColumn: `span ${d.span}` }}>
            {d.span >= 3 ? d.label : ""}
          </div>
        ))}
        {tickEvery > 0 && <div className="hm-corner" />}
        {tickEvery > 0 &&
          buckets.map((b) => {
            const hour = new Date(b.start).getHours();
            return (
              <div key={`tick-${b.start}`} className="hm-tick">
                {hour % tickEvery === 0 && hour !== 0 ? String(hour).padStart(2, "0") : ""}
              </div>
            );
          })}
        {rows.map((resource) => {
          const cap = availability.capacity[resource] ?? 0;
          return [
            <div key={`${resource}-label`} className="hm-label">
              <strong>{resourceLabel(resource)}</strong>
              <span className="muted"> {capacityText(resource, cap)}</span>
            </div>,
            ...buckets.map((b) => {
              const free = b.free[resource] ?? 0;
              const fraction = cap > 0 ? free / cap : 0;
              return (
                <div
                  key={`${resource}-${b.start}`}
                  className="hm-cell"
                  data-resource={resource}
                  style={{ background: cellColor(fraction) }}
                  title={`${resourceLabel(resource)}, ${fmtDateTime(new Date(b.start))}–${fmtTime(new Date(b.end))}: ${fmtAmount(resource, free)} of ${fmtAmount(resource, cap)} free`}
                />
              );
            }),
          ];
        })}
      </div>
      <figcaption className="legend">
        <span>
          <i style={{ background: "var(--full)" }} /> fully booked
        </span>
        <span>
          <i style={{ background: cellColor(0.2) }} /> little free
        </span>
        <span>
          <i style={{ background: cellColor(1) }} /> all free
        </span>
        <span className="muted">
          Each cell shows the least free amount in its {Math.round(bucketMs / 3_600_000)} h; hover for numbers.
        </span>
      </figcaption>
    </figure>
  );
}
