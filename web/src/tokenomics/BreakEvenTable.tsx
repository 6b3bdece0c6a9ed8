// Each cloud API: its price blended by the workload's token mix, and the utilization above
// which owning is cheaper — or "never" (energy alone costs more, or above the ceiling).
import type { BreakevenReport } from "../api/types";
import { pct, perMtok } from "../lib/tokenomics";

export function BreakEvenTable({ report }: { report: BreakevenReport }) {
  const u = report.utilization;
  return (
    <section aria-labelledby="tk-breakeven-title">
      <h2 id="tk-breakeven-title">Break-even against cloud APIs</h2>
      <div className="table-wrap">
        <table className="tk-breakeven">
          <thead>
            <tr>
              <th scope="col">API</th>
              <th scope="col" className="num">
                Price, $/Mtok
              </th>
              <th scope="col" className="num">
                Break-even
              </th>
              <th scope="col">At {pct(u)}</th>
            </tr>
          </thead>
          <tbody>
            {report.apis.map((a) => {
              const never = a.breakeven_utilization === null;
              const cheaper = !never && u >= a.breakeven_utilization!;
              return (
                <tr key={a.api}>
                  <th scope="row">
                    {a.api}
                    <span className="help">{a.model_class ? `vs class ${a.model_class}` : "vs the whole mix"}</span>
                  </th>
                  <td className="num">{perMtok(a.api_price_per_mtok)}</td>
                  <td className="num">
                    {never ? (
                      <>
                        never
                        <span className="help">{a.verdict.replace(/^never: /, "")}</span>
                      </>
                    ) : (
                      pct(a.breakeven_utilization!)
                    )}
                  </td>
                  <td className={cheaper ? "tk-win" : "tk-lose"}>{cheaper ? "on-prem cheaper" : "API cheaper"}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      <p className="help">
        An API's input and output prices are blended by the tokens of the mix (or of its class). Break-even above the
        practical ceiling of {pct(report.practical_ceiling, 0)} counts as never.
      </p>
    </section>
  );
}
