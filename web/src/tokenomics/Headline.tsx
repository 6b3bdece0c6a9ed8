// The figures finance asks for first: $/Mtok (blended, input, output), annual cost and tokens.
import type { CostReport } from "../api/types";
import { count, perMtok, pct, usd } from "../lib/tokenomics";

export function Headline({ cost }: { cost: CostReport }) {
  return (
    <dl className="tk-headline" aria-label="Key figures">
      <div>
        <dt>Cost per million tokens</dt>
        <dd className="tk-big" data-testid="cost-per-mtok">
          {perMtok(cost.cost_per_mtok)}
        </dd>
        <dd className="help">
          input {perMtok(cost.input_price_per_mtok)}, output {perMtok(cost.output_price_per_mtok)}
        </dd>
      </div>
      <div>
        <dt>Annual cost</dt>
        <dd className="tk-big">{usd(cost.annual_cost)}</dd>
        <dd className="help">capital outlay {usd(cost.capital_expenditure)}</dd>
      </div>
      <div>
        <dt>Tokens per year</dt>
        <dd className="tk-big">{count(cost.tokens_per_year)}</dd>
        <dd className="help">
          at {pct(cost.utilization)} utilization, {cost.serving_gpus} serving GPUs
          {cost.spare_servers > 0 ? `, ${cost.spare_servers} spare server${cost.spare_servers === 1 ? "" : "s"}` : ""}
        </dd>
      </div>
      <div>
        <dt>80% vs 40% utilization</dt>
        <dd className="tk-big">{cost.unit_cost_80_vs_40.toFixed(3)}×</dd>
        <dd className="help">unit cost at 80% ÷ at 40% (0.5 if power were flat)</dd>
      </div>
    </dl>
  );
}
