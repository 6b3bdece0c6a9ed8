// $/Mtok per model class: each class carries the cost of the GPU-time it takes.
import type { CostReport } from "../api/types";
import { DataTable, type Column } from "../components/DataTable";
import { count, perMtok, pct, usd } from "../lib/tokenomics";

type ClassCost = CostReport["classes"][number];

const COLUMNS: Column<ClassCost>[] = [
  { header: "Class", cell: (c) => c.name, rowHeader: true },
  { header: "Tokens per year", cell: (c) => count(c.tokens_per_year), className: "num" },
  { header: "GPU-time", cell: (c) => pct(c.gpu_time_share), className: "num" },
  { header: "$ per year", cell: (c) => usd(c.annual_cost), className: "num" },
  { header: "$/Mtok", cell: (c) => perMtok(c.cost_per_mtok), className: "num" },
  {
    header: "Input / output",
    cell: (c) => (
      <>
        {perMtok(c.input_price_per_mtok)} / {perMtok(c.output_price_per_mtok)}
      </>
    ),
    className: "num",
  },
];

export function ClassCosts({ cost }: { cost: CostReport }) {
  return (
    <section aria-labelledby="tk-classes-title">
      <h2 id="tk-classes-title">By model class</h2>
      <DataTable columns={COLUMNS} rows={cost.classes} rowKey={(c) => c.name} />
    </section>
  );
}
