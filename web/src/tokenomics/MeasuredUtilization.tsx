// "Use measured utilization": a pool's utilization in the last 30 days from the platform's own
// data, put into the utilization field. Booked: booked over available GPU-hours (an upper bound,
// a booked GPU may sit idle). Measured: the GPU-hours the bookings really used, from the
// activity series the cost ledger reads (a lower bound: unmeasured time counts as unused).
import { useState } from "react";
import { api } from "../api/client";
import type { Utilization, UtilizationBasis } from "../api/types";
import { ErrorNote } from "../components/ErrorNote";
import { PoolSelect } from "../components/PoolSelect";
import { SelectField } from "../components/SelectField";
import { last30Days, measuredText, pct } from "../lib/tokenomics";
import { usePools } from "../lib/usePools";

const hours = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1 });

const BASES = [
  { value: "booked", label: "Booked" },
  { value: "measured", label: "Measured (used)" },
] as const;

const HELP: Record<UtilizationBasis, string> = {
  booked: "Booked GPU-hours over available GPU-hours: an upper bound, since a booked GPU may sit idle.",
  measured:
    "GPU-hours the bookings really used (GPU activity × time) over available GPU-hours: a lower bound, since unmeasured time counts as unused.",
};

function describe(m: Utilization): string {
  const of =
    m.basis === "measured"
      ? `${hours.format(m.used_gpu_hours ?? 0)} of ${hours.format(m.available_gpu_hours)} GPU-hours used (${hours.format(m.measured_gpu_hours ?? 0)} of ${hours.format(m.booked_gpu_hours)} booked GPU-hours measured)`
      : `${hours.format(m.booked_gpu_hours)} of ${hours.format(m.available_gpu_hours)} GPU-hours booked`;
  if (measuredText(m.utilization) === null) {
    return `Pool ${m.pool}, last 30 days: ${of}. The model needs a utilization above 0, so it stays as it was.`;
  }
  return `Pool ${m.pool}, last 30 days: ${of} = ${pct(m.utilization)}, now the utilization.`;
}

export function MeasuredUtilization({ onUse }: { onUse: (text: string) => void }) {
  const pools = usePools();
  const [pool, setPool] = useState("");
  const [basis, setBasis] = useState<UtilizationBasis>("booked");
  const [measured, setMeasured] = useState<Utilization | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const chosen = pool || pools.data?.[0]?.name || "";

  const measure = async () => {
    setBusy(true);
    setError(null);
    try {
      const { from, to } = last30Days(new Date());
      const m = await api.utilization(chosen, from, to, basis);
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
        <SelectField id="tk-basis" label="Utilization from" value={basis} choices={BASES} onChange={setBasis} />
        <button type="button" onClick={() => void measure()} disabled={busy || !chosen}>
          {busy ? "Measuring…" : "Use measured utilization"}
        </button>
      </div>
      <p className="help">{HELP[basis]}</p>
      <p role="status" className="tk-measured-result">
        {measured ? describe(measured) : ""}
      </p>
      <ErrorNote error={error ?? pools.error} />
    </div>
  );
}
