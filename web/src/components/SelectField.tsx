// A labelled select of choices, each a value and the text shown for it.
import { Field } from "./Field";

export interface Choice<V extends string> {
  value: V;
  label: string;
}

interface Props<V extends string> {
  id: string;
  label: string;
  value: V;
  choices: readonly Choice<V>[];
  onChange: (value: V) => void;
}

export function SelectField<V extends string>({ id, label, value, choices, onChange }: Props<V>) {
  return (
    <Field id={id} label={label}>
      <select id={id} value={value} onChange={(e) => onChange(e.target.value as V)}>
        {choices.map((c) => (
          <option key={c.value} value={c.value}>
            {c.label}
          </option>
        ))}
      </select>
    </Field>
  );
}
