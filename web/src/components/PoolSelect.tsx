// Choose a pool; `allLabel` adds a first choice (value "") meaning every pool.
import type { Pool } from "../api/types";
import { Field } from "./Field";

interface Props {
  pools: Pool[];
  value: string;
  onChange: (pool: string) => void;
  id?: string;
  allLabel?: string;
}

export function PoolSelect({ pools, value, onChange, id = "pool", allLabel }: Props) {
  return (
    <Field id={id} label="Pool">
      <select id={id} value={value} onChange={(e) => onChange(e.target.value)}>
        {allLabel !== undefined && <option value="">{allLabel}</option>}
        {pools.map((p) => (
          <option key={p.name} value={p.name}>
            {p.name}
          </option>
        ))}
      </select>
    </Field>
  );
}
