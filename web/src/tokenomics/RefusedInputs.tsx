// What the API refused (422 problem+json, `errors[].field`) or the browser could not read as a
// number, each naming its field with a button that moves focus there.
import { fieldId, formPath, labelOf } from "../lib/tokenomics";

interface Props {
  problems: Record<string, string>; // form path -> message
  refused: boolean; // the API refused the inputs (else they are only not numbers)
  classNames: string[];
}

export function RefusedInputs({ problems, refused, classNames }: Props) {
  const items = Object.entries(problems);
  if (items.length === 0) return null;
  return (
    <div className="refusal" role="alert" id="tk-problems">
      <h2>{refused ? "The API refused these inputs" : "Some inputs are not numbers"}</h2>
      <ul>
        {items.map(([path, message]) => (
          <li key={path}>
            <button
              type="button"
              className="link-button"
              onClick={() => document.getElementById(fieldId(formPath(path)))?.focus()}
            >
              {labelOf(path, classNames)}
            </button>
            : {message}
          </li>
        ))}
      </ul>
      <p className="help">The figures shown are for the last inputs the API accepted.</p>
    </div>
  );
}
