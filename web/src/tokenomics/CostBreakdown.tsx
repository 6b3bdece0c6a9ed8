// Annual cost by component, each with its share drawn as a bar.
import type { CostReport } from "../api/types";
import { DataTable, type Column } from "../components/DataTable";
import { COMPONENTS, pct, usd } from "../lib/tokenomics";

interface Line {
  key: string;
  label: string;
  amount: number;
  share: number;
  bar: boolean;
}

const COLUMNS: Column<Line>[] = [
  { header: "Component", cell: (l) => l.label, rowHeader: true },
  { header: "$ per year", cell: (l) => usd(l.amount), className: "num" },
  { header: "Share", cell: (l) => pct(l.share), className: "num" },
  {
    header: "",
    key: "bar",
    decorative: true,
    className: "tk-bar-col",
    cell: (l) => l.bar && <span className="tk-bar" style={{ width: `${l.share * 100}%` }} />,
  },
];

export function CostBreakdown({ cost }: { cost: CostReport }) {
  const lines = Object.entries(cost.breakdown).map(([key, amount]) => ({
    key,
    label: COMPONENTS[key] ?? key,
    amount,
    share: cost.annual_cost > 0 ? amount / cost.annual_cost : 0,
    bar: true,
  }));
  const total = { key: "total", label: "Total", amount: cost.annual_cost, share: 1, bar: false };
  return (
    <section aria-labelledby="tk-breakdown-title">
      <h2 id="tk-breakdown-title">Annual cost by component</h2>
      <DataTable className="tk-breakdown" columns={COLUMNS} rows={lines} foot={[total]} rowKey={(l) => l.key} />
    </section>
  );
}
