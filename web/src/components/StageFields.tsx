// What to stage before the window opens: the catalog's engines and models (with sizes), as
// checkboxes. The agent on each of the pool's nodes downloads the models ahead of the start.
import type { Catalog } from "../api/types";
import { formatBytes, toggle } from "../lib/staging";

export function StageFields({
  catalog,
  engines,
  models,
  onChange,
}: {
  catalog: Catalog;
  engines: string[];
  models: string[];
  onChange: (engines: string[], models: string[]) => void;
}) {
  const engineOrder = catalog.engines.map((e) => e.name);
  const modelOrder = catalog.models.map((m) => m.id);
  const total = catalog.models.filter((m) => models.includes(m.id)).reduce((sum, m) => sum + m.size, 0);
  return (
    <fieldset className="stage" aria-describedby="stage-help">
      <legend>Stage on the nodes (optional)</legend>
      <p id="stage-help" className="help">
        Engines and models to have on the pool&apos;s nodes before your window opens.
        {total > 0 && ` Models: ${formatBytes(total)} per node.`}
      </p>
      <div className="stage-columns">
        <div role="group" aria-label="Engines">
          <p className="stage-head">Engines</p>
          {catalog.engines.map((e) => (
            <div key={e.name} className="check">
              <input
                type="checkbox"
                id={`stage-engine-${e.name}`}
                checked={engines.includes(e.name)}
                onChange={(ev) => onChange(toggle(engines, e.name, ev.target.checked, engineOrder), models)}
                aria-describedby={`stage-engine-${e.name}-about`}
              />
              <label htmlFor={`stage-engine-${e.name}`}>{e.name}</label>
              <span id={`stage-engine-${e.name}-about`} className="muted">
                {e.image}
              </span>
            </div>
          ))}
        </div>
        <div role="group" aria-label="Models">
          <p className="stage-head">Models</p>
          {catalog.models.map((m) => (
            <div key={m.id} className="check">
              <input
                type="checkbox"
                id={`stage-model-${m.id}`}
                checked={models.includes(m.id)}
                onChange={(ev) => onChange(engines, toggle(models, m.id, ev.target.checked, modelOrder))}
                aria-describedby={`stage-model-${m.id}-about`}
              />
              <label htmlFor={`stage-model-${m.id}`}>{m.id}</label>
              <span id={`stage-model-${m.id}-about`} className="muted">
                {formatBytes(m.size)}, {m.format}
              </span>
            </div>
          ))}
        </div>
      </div>
    </fieldset>
  );
}
