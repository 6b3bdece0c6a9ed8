// Pick a GPU kind of the pool and how many units: the choices come from the pool itself.
import type { GpuKind } from "../api/types";
import { SelectField } from "./SelectField";

interface Props {
  kinds: GpuKind[];
  kind: string;
  count: number;
  onKind: (kind: string) => void;
  onCount: (count: number) => void;
  idPrefix: string;
}

export function GpuRequestFields({ kinds, kind, count, onKind, onCount, idPrefix }: Props) {
  const selected = kinds.find((k) => k.name === kind);
  return (
    <>
      <SelectField
        id={`${idPrefix}-kind`}
        label="GPU kind"
        value={kind}
        choices={kinds.map((k) => ({
          value: k.name,
          label: `${k.name} — ${k.model}, ${k.memory} (${k.units} in pool)`,
        }))}
        onChange={onKind}
      />
      <label htmlFor={`${idPrefix}-count`}>
        Count
        <input
          id={`${idPrefix}-count`}
          type="number"
          min={1}
          max={selected?.units ?? 1}
          step={1}
          required
          value={count}
          onChange={(e) => onCount(Math.max(1, Math.floor(Number(e.target.value) || 1)))}
        />
      </label>
    </>
  );
}
