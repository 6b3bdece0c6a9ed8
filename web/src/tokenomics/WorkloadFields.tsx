// The workload mix: per model class its share of requests, throughput and request size; then
// the output:input cost ratio and the practical ceiling for break-even.
import type { Scenario } from "../api/types";
import { DataTable, type Column } from "../components/DataTable";
import { CLASS_FIELDS, fieldId, OTHER_FIELDS, valueOf } from "../lib/tokenomics";
import { FieldGrid, type ScenarioFormProps } from "./FieldGrid";

type ModelClass = Scenario["workload"]["classes"][number];

function replica(c: ModelClass, slicesPerGpu: number | null | undefined): string {
  if (c.mig_slices != null)
    return `${c.mig_slices} MIG slice${c.mig_slices === 1 ? "" : "s"} of ${slicesPerGpu ?? "?"}`;
  return `${c.gpus} GPU${c.gpus === 1 ? "" : "s"}`;
}

export function WorkloadFields(props: ScenarioFormProps) {
  const { scenario, edits, errors, onEdit } = props;
  const classes = scenario.workload.classes;
  const tableError = errors["workload.classes"];
  const columns: Column<ModelClass>[] = [
    {
      header: "Class (replica)",
      rowHeader: true,
      cell: (c) => (
        <>
          {c.name}
          <span className="help">{replica(c, scenario.server.mig_slices_per_gpu)}</span>
        </>
      ),
    },
    ...CLASS_FIELDS.map((col): Column<ModelClass> => ({
      header: col.label,
      key: col.key,
      cell: (c, i) => {
        const path = `workload.classes.${i}.${col.key}`;
        const id = fieldId(path);
        const error = errors[path];
        return (
          <>
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
          </>
        );
      },
    })),
  ];
  return (
    <fieldset className="tk-group">
      <legend>Workload</legend>
      <DataTable
        className="tk-classes"
        caption="Model classes of the workload"
        columns={columns}
        rows={classes}
        rowKey={(c) => c.name}
      />
      {tableError && <p className="field-error">{tableError}</p>}
      <p className="help">Shares are of requests and must add up to 1; throughput is at full batch.</p>
      <FieldGrid fields={OTHER_FIELDS} {...props} />
    </fieldset>
  );
}
