// Tokenomics: the cost of owning GPUs as dollars per million tokens. A built-in scenario's
// figures fill the form (the scenario picker stays put while another loads, so focus does too); every change is sent (debounced) to the API, which checks it and
// answers with the cost, the curve against utilization and the break-even against cloud APIs.
import { useMemo, useState } from "react";
import { api } from "../api/client";
import { ApiError } from "../api/problem";
import type { Scenario } from "../api/types";
import { ErrorNote } from "../components/ErrorNote";
import { NumberField } from "../components/NumberField";
import { SelectField } from "../components/SelectField";
import { buildRequest, fieldErrors, fieldId, SCENARIOS, UTILIZATION, valueOf, type Edits } from "../lib/tokenomics";
import { useDebounced } from "../lib/useDebounced";
import { useLoad } from "../lib/useLoad";
import { useTokenomics } from "../lib/useTokenomics";
import { BreakEvenTable } from "../tokenomics/BreakEvenTable";
import { ClassCosts } from "../tokenomics/ClassCosts";
import { CostBreakdown } from "../tokenomics/CostBreakdown";
import { CostCurve } from "../tokenomics/CostCurve";
import { Headline } from "../tokenomics/Headline";
import { MeasuredUtilization } from "../tokenomics/MeasuredUtilization";
import { RefusedInputs } from "../tokenomics/RefusedInputs";
import { ScenarioFields } from "../tokenomics/ScenarioFields";
import { WorkloadFields } from "../tokenomics/WorkloadFields";

export default function TokenomicsPage() {
  const [name, setName] = useState<string>(SCENARIOS[0].name);
  const scenario = useLoad(() => api.scenario(name), [name]);
  return (
    <section aria-labelledby="tk-title">
      <h1 id="tk-title">Tokenomics</h1>
      <p className="muted tk-intro">
        What a GPU fleet costs to own and run, per million tokens it serves, and the utilization at which it beats a
        cloud API. The defaults are estimates listed with their sources in <code>docs/tokenomics.md</code>: put in your
        own quote, tariff and benchmark.
      </p>
      <div className="inline-form tk-picker">
        <SelectField
          id="tk-scenario"
          label="Scenario"
          value={name}
          choices={SCENARIOS.map((s) => ({ value: s.name, label: s.label }))}
          onChange={setName}
        />
        {scenario.data?.name === name && scenario.data.description && (
          <p className="help">{scenario.data.description}</p>
        )}
      </div>
      <ErrorNote error={scenario.error} />
      {scenario.data && scenario.data.name === name ? (
        <TokenomicsForm key={name} scenario={scenario.data} />
      ) : (
        !scenario.error && <p role="status">Loading…</p>
      )}
    </section>
  );
}

function TokenomicsForm({ scenario }: { scenario: Scenario }) {
  const [edits, setEdits] = useState<Edits>({});
  const built = useMemo(() => buildRequest(scenario, edits), [scenario, edits]);
  const body = useDebounced(built.body, 400);
  const { figures, error, errorFor, busy } = useTokenomics(body);
  const edit = (path: string, text: string) => setEdits((e) => ({ ...e, [path]: text }));

  // A refusal is shown only while the inputs are as they were sent: typing again clears it.
  const refused = error instanceof ApiError && error.status === 422 && errorFor === built.body;
  const errors = refused ? fieldErrors(error.problem.errors) : {};
  const all = { ...errors, ...built.problems };
  const classNames = scenario.workload.classes.map((c) => c.name);

  return (
    <div className="tk-layout">
      <form className="card tk-form" aria-label="Scenario inputs" noValidate onSubmit={(e) => e.preventDefault()}>
        <fieldset className="tk-group">
          <legend>Utilization</legend>
          <NumberField
            id={fieldId(UTILIZATION)}
            label="Utilization (0–1)"
            help="share of the year the serving GPUs run at full throughput"
            value={valueOf(scenario, edits, UTILIZATION)}
            error={all[UTILIZATION]}
            onChange={(text) => edit(UTILIZATION, text)}
          />
          <MeasuredUtilization onUse={(text) => edit(UTILIZATION, text)} />
        </fieldset>
        <ScenarioFields scenario={scenario} edits={edits} errors={all} onEdit={edit} />
        <WorkloadFields scenario={scenario} edits={edits} errors={all} onEdit={edit} />
        <div className="actions">
          <button type="button" onClick={() => setEdits({})} disabled={Object.keys(edits).length === 0}>
            Reset to the scenario's figures
          </button>
        </div>
      </form>
      <div className="tk-results" aria-busy={busy}>
        <RefusedInputs problems={all} refused={refused} classNames={classNames} />
        {!(error instanceof ApiError && error.status === 422) && <ErrorNote error={error} />}
        {figures ? (
          <>
            <Headline cost={figures.cost} />
            <CostCurve curve={figures.curve} utilization={figures.cost.utilization} />
            <CostBreakdown cost={figures.cost} />
            <BreakEvenTable report={figures.breakeven} />
            <ClassCosts cost={figures.cost} />
          </>
        ) : (
          !error && <p role="status">Computing…</p>
        )}
      </div>
    </div>
  );
}
