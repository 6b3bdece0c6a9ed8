// Each cloud API: its price blended by the workload's token mix, and the utilization above
// which owning is cheaper — or "never" (energy alone costs more, or above the ceiling).
import type { BreakevenReport } from "../api/types";
import { DataTable } from "../components/DataTable";
import { pct, perMtok } from "../lib/tokenomics";

export function BreakEvenTable({ report }: { report: BreakevenReport }) {
  const u = report.utilization;
  const cheaper = (a: BreakevenReport["apis"][number]) =>
    a.breakeven_utilization !== null && u >= a.breakeven_utilization;
  return (
    <section aria-labelledby="tk-breakeven-title">
      <h2 id="tk-breakeven-title">Break-even against cloud APIs</h2>
      <DataTable
        className="tk-breakeven"
        rows={report.apis}
        rowKey={(a) => a.api}
        columns={[
          {
            header: "API",
            rowHeader: true,
            cell: (a) => (
              <>
                {a.api}
                <span className="help">{a.model_class ? `vs class ${a.model_class}` : "vs the whole mix"}</span>
              </>
            ),
          },
          { header: "Price, $/Mtok", cell: (a) => perMtok(a.api_price_per_mtok), className: "num" },
          {
            header: "Break-even",
            className: "num",
            cell: (a) =>
              a.breakeven_utilization === null ? (
                <>
                  never
                  <span className="help">{a.verdict.replace(/^never: /, "")}</span>
                </>
              ) : (
                pct(a.breakeven_utilization)
              ),
          },
          {
            header: `At ${pct(u)}`,
            key: "verdict",
            cell: (a) => (cheaper(a) ? "on-prem cheaper" : "API cheaper"),
            cellClassName: (a) => (cheaper(a) ? "tk-win" : "tk-lose"),
          },
        ]}
      />
      <p className="help">
        An API's input and output prices are blended by the tokens of the mix (or of its class). Break-even above the
        practical ceiling of {pct(report.practical_ceiling, 0)} counts as never.
      </p>
    </section>
  );
}
