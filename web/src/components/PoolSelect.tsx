// Choose a pool; `allLabel` adds a first choice (value "") meaning every pool.
import type { Pool } from "../api/types";
import { SelectField } from "./SelectField";

interface Props {
  pools: Pool[];
  value: string;
  onChange: (pool: string) => void;
  id?: string;
  allLabel?: string;
}

export function PoolSelect({ pools, value, onChange, id = "pool", allLabel }: Props) {
  const choices = pools.map((p) => ({ value: p.name, label: p.name }));
  if (allLabel !== undefined) choices.unshift({ value: "", label: allLabel });
  return <SelectField id={id} label="Pool" value={value} choices={choices} onChange={onChange} />;
}
