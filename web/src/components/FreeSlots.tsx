// The next start times at which a request fits, each one a link into the booking form.
import { useState } from "react";
import type { Availability, Pool } from "../api/types";
import { freeSlots } from "../lib/fit";
import { defaultsFor } from "../lib/usePools";
import { fmtDateTime, GRID_MS, HOUR_MS, toUtcIso } from "../lib/time";
import { GpuRequestFields } from "./GpuRequestFields";
import { Link } from "./Link";

export function FreeSlots({ pool, availability, now }: { pool: Pool; availability: Availability; now: Date }) {
  const [kind, setKind] = useState(pool.kinds[0]?.name ?? "");
  const [count, setCount] = useState(1);
  const [hours, setHours] = useState(2);
  const k = pool.kinds.find((x) => x.name === kind);
  if (!k) return <p>This pool has no GPU kinds.</p>;
  const d = defaultsFor(k, count);
  const demand = { [k.name]: count, cpu: d.cpu, memory_bytes: d.memoryBytes };
  const durationMs = hours * HOUR_MS;
  const slots = freeSlots(availability.steps, demand, durationMs, now, new Date(availability.end), GRID_MS);

  const bookHref = (start: Date) => {
    const q = new URLSearchParams({
      pool: pool.name,
      kind: k.name,
      count: String(count),
      start: toUtcIso(start),
      end: toUtcIso(new Date(start.getTime() + durationMs)),
    });
    return `/book?${q}`;
  };

  return (
    <section aria-labelledby="slots-title" className="card">
      <h2 id="slots-title">Next free slots</h2>
      <form className="inline-form" onSubmit={(e) => e.preventDefault()}>
        <GpuRequestFields
          kinds={pool.kinds}
          kind={kind}
          count={count}
          onKind={setKind}
          onCount={setCount}
          idPrefix="slots"
        />
        <label htmlFor="slots-hours">
          Hours
          <input
            id="slots-hours"
            type="number"
            min={0.25}
            step={0.25}
            value={hours}
            onChange={(e) => setHours(Math.max(0.25, Number(e.target.value) || 0.25))}
          />
        </label>
      </form>
      <p className="muted">
        With the defaults of {d.cpu} CPU and {d.memoryBytes / 2 ** 30} GiB memory.
      </p>
      {slots.length === 0 ? (
        <p>Nothing fits in the shown window; try fewer units or a shorter time.</p>
      ) : (
        <ul className="slots" aria-live="polite">
          {slots.map((s) => (
            <li key={s.start.getTime()}>
              <span>
                <strong>{fmtDateTime(s.start)}</strong>
                {s.latestStart.getTime() > s.start.getTime() && (
                  <span className="muted"> or any start until {fmtDateTime(s.latestStart)}</span>
                )}
              </span>
              <Link className="button" href={bookHref(s.start)}>
                Book from {fmtDateTime(s.start)}
              </Link>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
