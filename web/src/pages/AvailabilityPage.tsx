// Free capacity over time for one pool, and the next slots that fit a request.
import { useMemo, useState } from "react";
import { api } from "../api/client";
import { ErrorNote } from "../components/ErrorNote";
import { FreeSlots } from "../components/FreeSlots";
import { Heatmap } from "../components/Heatmap";
import { PoolSelect, clustersShown } from "../components/PoolSelect";
import { SelectField } from "../components/SelectField";
import { HOUR_MS, toUtcIso } from "../lib/time";
import { useLoad } from "../lib/useLoad";
import { usePools } from "../lib/usePools";

const RANGES = [
  { label: "Next 48 hours", hours: 48, bucketHours: 1 },
  { label: "Next 7 days", hours: 168, bucketHours: 3 },
  { label: "Next 14 days", hours: 336, bucketHours: 6 },
];

export function AvailabilityPage() {
  const pools = usePools();
  const [poolName, setPoolName] = useState("");
  const [rangeIndex, setRangeIndex] = useState(1);
  const pool = pools.data?.find((p) => p.name === poolName) ?? pools.data?.[0];
  const range = RANGES[rangeIndex]!;
  // Cells start on local bucket boundaries (00:00, 03:00, ...), so days and hours line up.
  const span = useMemo(() => {
    const start = new Date();
    start.setHours(start.getHours() - (start.getHours() % range.bucketHours), 0, 0, 0);
    return { start, end: new Date(start.getTime() + range.hours * HOUR_MS) };
  }, [range.hours, range.bucketHours]);
  const avail = useLoad(
    () => (pool ? api.availability(pool.name, toUtcIso(span.start), toUtcIso(span.end)) : Promise.resolve(undefined)),
    [pool?.name, span],
    60_000,
  );
  const rows = pool ? [...pool.kinds.map((k) => k.name), "cpu", "memory_bytes"] : [];

  return (
    <section aria-labelledby="avail-title">
      <h1 id="avail-title">Availability</h1>
      <ErrorNote error={pools.error ?? avail.error} />
      <form className="inline-form" onSubmit={(e) => e.preventDefault()}>
        {pools.data && pool && <PoolSelect pools={pools.data} value={pool.name} onChange={setPoolName} />}
        <SelectField
          id="avail-range"
          label="Window"
          value={String(rangeIndex)}
          choices={RANGES.map((r, i) => ({ value: String(i), label: r.label }))}
          onChange={(v) => setRangeIndex(Number(v))}
        />
      </form>
      {pool && pools.data && clustersShown(pools.data) && (
        <p>
          Pool {pool.name} is on cluster <strong>{pool.cluster}</strong>.
        </p>
      )}
      {pool && avail.data ? (
        <>
          <Heatmap availability={avail.data} rows={rows} bucketMs={range.bucketHours * HOUR_MS} />
          <FreeSlots pool={pool} availability={avail.data} now={new Date()} />
        </>
      ) : (
        !avail.error && <p role="status">Loading…</p>
      )}
    </section>
  );
}
