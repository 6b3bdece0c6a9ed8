import type { Pool } from "../api/types";
import { Field } from "./Field";

export function PoolSelect({
  pools,
  value,
  onChange,
  id = "pool",
}: {
  pools: Pool[];
  value: string;
  onChange: (pool: string) => void;
  id?: string;
}) {
  return (
    <Field id={id} label="Pool">
      <select id={id} value={value} onChange={(e) => onChange(e.target.value)}>
        {pools.map((p) => (
          <option key={p.name} value={p.name}>
            {p.name}
          </option>
        ))}
      </select>
    </Field>
  );
}
