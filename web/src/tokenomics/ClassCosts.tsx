// $/Mtok per model class: each class carries the cost of the GPU-time it takes.
import type { CostReport } from "../api/types";
import { count, perMtok, pct, usd } from "../lib/tokenomics";

export function ClassCosts({ cost }: { cost: CostReport }) {
  return (
    <section aria-labelledby="tk-classes-title">
      <h2 id="tk-classes-title">By model class</h2>
      <div className="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Class</th>
              <th scope="col" className="num">
                Tokens per year
              </th>
              <th scope="col" className="num">
                GPU-time
              </th>
              <th scope="col" className="num">
                $ per year
              </th>
              <th scope="col" className="num">
                $/Mtok
              </th>
              <th scope="col" className="num">
                Input / output
              </th>
            </tr>
          </thead>
          <tbody>
            {cost.classes.map((c) => (
              <tr key={c.name}>
                <th scope="row">{c.name}</th>
                <td className="num">{count(c.tokens_per_year)}</td>
                <td className="num">{pct(c.gpu_time_share)}</td>
                <td className="num">{usd(c.annual_cost)}</td>
                <td className="num">{perMtok(c.cost_per_mtok)}</td>
                <td className="num">
                  {perMtok(c.input_price_per_mtok)} / {perMtok(c.output_price_per_mtok)}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
