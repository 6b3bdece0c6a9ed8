// Annual cost by component, each with its share drawn as a bar.
import type { CostReport } from "../api/types";
import { COMPONENTS, pct, usd } from "../lib/tokenomics";

export function CostBreakdown({ cost }: { cost: CostReport }) {
  const rows = Object.entries(cost.breakdown);
  return (
    <section aria-labelledby="tk-breakdown-title">
      <h2 id="tk-breakdown-title">Annual cost by component</h2>
      <div className="table-wrap">
        <table className="tk-breakdown">
          <thead>
            <tr>
              <th scope="col">Component</th>
              <th scope="col" className="num">
                $ per year
              </th>
              <th scope="col" className="num">
                Share
              </th>
              <th scope="col" aria-hidden="true" className="tk-bar-col"></th>
            </tr>
          </thead>
          <tbody>
            {rows.map(([key, amount]) => {
              const share = cost.annual_cost > 0 ? amount / cost.annual_cost : 0;
              return (
                <tr key={key}>
                  <th scope="row">{COMPONENTS[key] ?? key}</th>
                  <td className="num">{usd(amount)}</td>
                  <td className="num">{pct(share)}</td>
                  <td aria-hidden="true" className="tk-bar-col">
                    <span className="tk-bar" style={{ width: `${share * 100}%` }} />
                  </td>
                </tr>
              );
            })}
          </tbody>
          <tfoot>
            <tr>
              <th scope="row">Total</th>
              <td className="num">{usd(cost.annual_cost)}</td>
              <td className="num">100.0%</td>
              <td aria-hidden="true" className="tk-bar-col"></td>
            </tr>
          </tfoot>
        </table>
      </div>
    </section>
  );
}
