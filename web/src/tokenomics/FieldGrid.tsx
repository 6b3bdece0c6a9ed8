// Scenario figures in a two-column grid, one labelled number field per path: the block the
// hardware, finance and running-cost groups and the workload's other figures all use.
import type { Scenario } from "../api/types";
import { NumberField } from "../components/NumberField";
import { fieldId, valueOf, type Edits, type FieldSpec } from "../lib/tokenomics";

/** What every part of the scenario form gets: the scenario, the text typed so far, errors by path. */
export interface ScenarioFormProps {
  scenario: Scenario;
  edits: Edits;
  errors: Record<string, string>;
  onEdit: (path: string, text: string) => void;
}

export function FieldGrid({ fields, scenario, edits, errors, onEdit }: ScenarioFormProps & { fields: FieldSpec[] }) {
  return (
    <div className="grid2">
      {fields.map((f) => (
        <NumberField
          key={f.path}
          id={fieldId(f.path)}
          label={f.label}
          help={f.help}
          value={valueOf(scenario, edits, f.path)}
          error={errors[f.path]}
          onChange={(text) => onEdit(f.path, text)}
        />
      ))}
    </div>
  );
}
