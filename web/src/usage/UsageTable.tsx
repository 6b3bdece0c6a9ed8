// The ledger's rows in the chosen grouping, with the total in the foot.
import type { UsageFigures, UsageRow } from "../api/types";
import { DataTable, type Column } from "../components/DataTable";
import { dollars, gpuHours, perMtokOrDash, share, tokens } from "../lib/usage";

type Line = UsageFigures & Partial<Pick<UsageRow, "user" | "team" | "pool" | "gpu_kind" | "day">> & { total?: boolean };

const KEYS: { key: "user" | "team" | "pool" | "gpu_kind" | "day"; header: string }[] = [
  { key: "user", header: "User" },
  { key: "team", header: "Team" },
  { key: "pool", header: "Pool" },
  { key: "gpu_kind", header: "GPU kind" },
  { key: "day", header: "Day" },
];

const FIGURES: Column<Line>[] = [
  { header: "Reserved GPU-h", cell: (l) => gpuHours(l.reserved_gpu_hours), className: "num" },
  { header: "Used GPU-h", cell: (l) => gpuHours(l.used_gpu_hours), className: "num" },
  { header: "Measured", cell: (l) => share(l.measured_share), className: "num" },
  { header: "Idle", cell: (l) => share(l.idle_share), className: "num" },
  { header: "Cost", cell: (l) => dollars(l.cost), className: "num" },
  { header: "Tokens", cell: (l) => tokens(l.tokens_prompt + l.tokens_generated), className: "num" },
  { header: "$/Mtok", cell: (l) => perMtokOrDash(l.cost_per_mtok), className: "num" },
];

export function UsageTable({ rows, total, groupBy }: { rows: UsageRow[]; total: UsageFigures; groupBy: string[] }) {
  const keys = KEYS.filter((k) => groupBy.includes(k.key));
  const columns: Column<Line>[] = [
    ...keys.map((k, i) => ({
      header: k.header,
      key: k.key,
      rowHeader: i === 0,
      cell: (l: Line) => (l.total ? (i === 0 ? "Total" : "") : (l[k.key] ?? "")),
    })),
    ...FIGURES,
  ];
  return (
    <DataTable
      className="usage-table"
      caption="Reserved and used GPU-hours, idle share and cost"
      columns={columns}
      rows={rows}
      foot={[{ ...total, total: true }]}
      rowKey={(l) => keys.map((k) => l[k.key]).join("/")}
      empty="Nothing was reserved in this period."
    />
  );
}
