// Allocation mode, each choice explained in one sentence.
import type { Mode } from "../api/types";

const MODES: { value: Mode; label: string; help: string }[] = [
  {
    value: "interactive",
    label: "Interactive",
    help: "Your browser IDE gets one GPU slot of the booked kind, so notebooks and scripts in the workspace use the GPU directly.",
  },
  {
    value: "inference",
    label: "Inference",
    help: "The workspace itself has no GPU; every GPU slot is free for pods you deploy, such as a vLLM or Ollama server.",
  },
];

export function ModeField({ value, onChange }: { value: Mode; onChange: (mode: Mode) => void }) {
  return (
    <fieldset className="modes">
      <legend>Allocation mode</legend>
      {MODES.map((m) => (
        <label key={m.value} className="radio">
          <input
            type="radio"
            name="mode"
            value={m.value}
            checked={value === m.value}
            onChange={() => onChange(m.value)}
            aria-describedby={`mode-${m.value}-help`}
          />
          <span>
            <strong>{m.label}</strong>
            <span id={`mode-${m.value}-help`} className="help">
              {m.help}
            </span>
          </span>
        </label>
      ))}
    </fieldset>
  );
}
