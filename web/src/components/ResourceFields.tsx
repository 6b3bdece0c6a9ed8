// CPU and memory for a booking; empty means the kind's per-unit defaults times the count.
import { Field } from "./Field";

interface Props {
  cpu: number;
  memoryGiB: number;
  defaultCpu: number;
  defaultMemoryGiB: number;
  onCpu: (v: string | null) => void;
  onMemory: (v: string | null) => void;
}

function AmountField(props: {
  id: string;
  label: string;
  value: number;
  min: number;
  step: number;
  fallback: number;
  unit: string;
  onChange: (v: string | null) => void;
}) {
  const { id, label, value, min, step, fallback, unit, onChange } = props;
  return (
    <Field id={id} label={label}>
      <input
        id={id}
        type="number"
        min={min}
        step={step}
        value={Number.isNaN(value) ? "" : value}
        onChange={(e) => onChange(e.target.value)}
        aria-describedby={`${id}-help`}
      />
      <span id={`${id}-help`} className="help">
        Default for this request: {fallback}
        {unit}
      </span>
      {value !== fallback && (
        <button type="button" className="link-button" onClick={() => onChange(null)}>
          Use the default {label.toLowerCase()}
        </button>
      )}
    </Field>
  );
}

export function ResourceFields({ cpu, memoryGiB, defaultCpu, defaultMemoryGiB, onCpu, onMemory }: Props) {
  return (
    <div className="grid2">
      <AmountField
        id="book-cpu"
        label="CPU cores"
        value={cpu}
        min={0.5}
        step={0.5}
        fallback={defaultCpu}
        unit=""
        onChange={onCpu}
      />
      <AmountField
        id="book-memory"
        label="Memory (GiB)"
        value={memoryGiB}
        min={1}
        step={1}
        fallback={defaultMemoryGiB}
        unit=" GiB"
        onChange={onMemory}
      />
    </div>
  );
}
