// The scenario's hardware, finance and running-cost figures, one labelled field each.
import type { Scenario } from "../api/types";
import { NumberField } from "../components/NumberField";
import { fieldId, GROUPS, valueOf, type Edits } from "../lib/tokenomics";

interface Props {
  scenario: Scenario;
  edits: Edits;
  errors: Record<string, string>;
  onEdit: (path: string, text: string) => void;
}

export function ScenarioFields({ scenario, edits, errors, onEdit }: Props) {
  return (
    <>
      {GROUPS.map((g) => (
        <fieldset key={g.legend} className="tk-group">
          <legend>{g.legend}</legend>
          <div className="grid2">
            {g.fields.map((f) => (
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
        </fieldset>
      ))}
    </>
  );
}
