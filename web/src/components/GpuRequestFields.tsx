// Pick a GPU kind of the pool and how many units: the choices come from the pool itself.
import type { GpuKind } from "../api/types";
import { Field } from "./Field";

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
      <Field id={`${idPrefix}-kind`} label="GPU kind">
        <select id={`${idPrefix}-kind`} value={kind} onChange={(e) => onKind(e.target.value)}>
          {kinds.map((k) => (
            <option key={k.name} value={k.name}>
              {k.name} — {k.model}, {k.memory} ({k.units} in pool)
            </option>
          ))}
        </select>
      </Field>
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
