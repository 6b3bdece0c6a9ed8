// A number typed as text (inputmode decimal), so "1." or "" while typing is never rewritten;
// its help and its error are tied to it for screen readers.
import { Field } from "./Field";

interface Props {
  id: string;
  label: string;
  value: string;
  onChange: (text: string) => void;
  help?: string;
  error?: string;
}

export function NumberField({ id, label, value, onChange, help, error }: Props) {
  const described = [help ? `${id}-help` : "", error ? `${id}-error` : ""].filter(Boolean).join(" ");
  return (
    <Field id={id} label={label}>
      <input
        id={id}
        type="text"
        inputMode="decimal"
        autoComplete="off"
        spellCheck={false}
        value={value}
        aria-invalid={error ? true : undefined}
        aria-describedby={described || undefined}
        onChange={(e) => onChange(e.target.value)}
      />
      {help && (
        <span className="help" id={`${id}-help`}>
          {help}
        </span>
      )}
      {error && (
        <span className="field-error" id={`${id}-error`}>
          {error}
        </span>
      )}
    </Field>
  );
}
