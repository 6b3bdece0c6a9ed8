// Choose a pool; `allLabel` adds a first choice (value "") meaning every pool. When the pools
// live on more than one cluster (or on a named one), each choice names its cluster.
import type { Pool } from "../api/types";
import { SelectField } from "./SelectField";

interface Props {
  pools: Pool[];
  value: string;
  onChange: (pool: string) => void;
  id?: string;
  allLabel?: string;
}

/** Whether the pools' clusters are worth naming: some pool is on a cluster other than `default`
 * (so there are several, or the one there is has a name). */
export function clustersShown(pools: Pool[]): boolean {
  return pools.some((p) => p.cluster !== "default");
}

export function poolLabel(pool: Pool, withCluster: boolean): string {
  return withCluster ? `${pool.name} (cluster ${pool.cluster})` : pool.name;
}

export function PoolSelect({ pools, value, onChange, id = "pool", allLabel }: Props) {
  const named = clustersShown(pools);
  const choices = pools.map((p) => ({ value: p.name, label: poolLabel(p, named) }));
  if (allLabel !== undefined) choices.unshift({ value: "", label: allLabel });
  return <SelectField id={id} label="Pool" value={value} choices={choices} onChange={onChange} />;
}
