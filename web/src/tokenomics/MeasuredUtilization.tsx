// "Use measured utilization": booked over available GPU-hours of a pool in the last 30 days,
// from the platform's own reservations, put into the utilization field.
import { useState } from "react";
import { api } from "../api/client";
import type { Utilization } from "../api/types";
import { ErrorNote } from "../components/ErrorNote";
import { PoolSelect } from "../components/PoolSelect";
import { last30Days, measuredText, pct } from "../lib/tokenomics";
import { usePools } from "../lib/usePools";

const hours = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });

function describe(m: Utilization): string {
  const of = `${hours.format(m.booked_gpu_hours)} of ${hours.format(m.available_gpu_hours)} GPU-hours booked`;
  if (measuredText(m.utilization) === null) {
    return `Pool ${m.pool}, last 30 days: ${of}. The model needs a utilization above 0, so it stays as it was.`;
  }
  return `Pool ${m.pool}, last 30 days: ${of} = ${pct(m.utilization)}, now the utilization.`;
}

export function MeasuredUtilization({ onUse }: { onUse: (text: string) => void }) {
  const pools = usePools();
  const [pool, setPool] = useState("");
  const [measured, setMeasured] = useState<Utilization | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const chosen = pool || pools.data?.[0]?.name || "";

  const measure = async () => {
    setBusy(true);
    setError(null);
    try {
      const { from, to } = last30Days(new Date());
      const m = await api.utilization(chosen, from, to);
      setMeasured(m);
      const text = measuredText(m.utilization);
      if (text !== null) onUse(text);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="tk-measured">
      <div className="inline-form">
        {pools.data && <PoolSelect pools={pools.data} value={chosen} onChange={setPool} id="tk-pool" />}
        <button type="button" onClick={() => void measure()} disabled={busy || !chosen}>
          {busy ? "Measuring…" : "Use measured utilization"}
        </button>
      </div>
      <p className="help">
        Booked GPU-hours over available GPU-hours: an upper bound, since a booked GPU may sit idle.
      </p>
      <p role="status" className="tk-measured-result">
        {measured ? describe(measured) : ""}
      </p>
      <ErrorNote error={error ?? pools.error} />
    </div>
  );
}
