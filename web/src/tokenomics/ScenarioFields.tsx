// The scenario's hardware, finance and running-cost figures, one labelled field each.
import { GROUPS } from "../lib/tokenomics";
import { FieldGrid, type ScenarioFormProps } from "./FieldGrid";

export function ScenarioFields(props: ScenarioFormProps) {
  return (
    <>
      {GROUPS.map((g) => (
        <fieldset key={g.legend} className="tk-group">
          <legend>{g.legend}</legend>
          <FieldGrid fields={g.fields} {...props} />
        </fieldset>
      ))}
    </>
  );
}
