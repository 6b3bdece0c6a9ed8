// The workload mix: per model class its share of requests, throughput and request size; then
// the output:input cost ratio and the practical ceiling for break-even.
import type { Scenario } from "../api/types";
import { CLASS_FIELDS, fieldId, OTHER_FIELDS, valueOf } from "../lib/tokenomics";
import { FieldGrid, type ScenarioFormProps } from "./FieldGrid";

function replica(c: Scenario["workload"]["classes"][number], slicesPerGpu: number | null | undefined): string {
  if (c.mig_slices != null)
    return `${c.mig_slices} MIG slice${c.mig_slices === 1 ? "" : "s"} of ${slicesPerGpu ?? "?"}`;
  return `${c.gpus} GPU${c.gpus === 1 ? "" : "s"}`;
}

export function WorkloadFields(props: ScenarioFormProps) {
  const { scenario, edits, errors, onEdit } = props;
  const classes = scenario.workload.classes;
  const tableError = errors["workload.classes"];
  return (
    <fieldset className="tk-group">
      <legend>Workload</legend>
      <div className="table-wrap">
        <table className="tk-classes">
          <caption className="sr-only">Model classes of the workload</caption>
          <thead>
            <tr>
              <th scope="col">Class (replica)</th>
              {CLASS_FIELDS.map((c) => (
                <th scope="col" key={c.key}>
                  {c.label}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {classes.map((c, i) => (
              <tr key={c.name}>
                <th scope="row">
                  {c.name}
                  <span className="help">{replica(c, scenario.server.mig_slices_per_gpu)}</span>
                </th>
                {CLASS_FIELDS.map((col) => {
                  const path = `workload.classes.${i}.${col.key}`;
                  const id = fieldId(path);
                  const error = errors[path];
                  return (
                    <td key={col.key}>
                      <input
                        id={id}
                        type="text"
                        inputMode="decimal"
                        autoComplete="off"
                        aria-label={`${c.name}: ${col.label}`}
                        aria-invalid={error ? true : undefined}
                        aria-describedby={error ? `${id}-error` : undefined}
                        value={valueOf(scenario, edits, path)}
                        onChange={(e) => onEdit(path, e.target.value)}
                      />
                      {error && (
                        <span className="field-error" id={`${id}-error`}>
                          {error}
                        </span>
                      )}
                    </td>
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {tableError && <p className="field-error">{tableError}</p>}
      <p className="help">Shares are of requests and must add up to 1; throughput is at full batch.</p>
      <FieldGrid fields={OTHER_FIELDS} {...props} />
    </fieldset>
  );
}
