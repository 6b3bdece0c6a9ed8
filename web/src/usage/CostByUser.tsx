// Dollars per user in the period (per team once teams exist, issue 17).
import { Bar, BarChart, CartesianGrid, Tooltip, XAxis, YAxis } from "recharts";
import type { UsageRow } from "../api/types";
import { dollars } from "../lib/usage";

export function CostByUser({ users }: { users: UsageRow[] }) {
  const rows = [...users].sort((a, b) => b.cost - a.cost).map((u) => ({ user: u.user ?? "", cost: u.cost }));
  return (
    <figure className="tk-curve usage-figure" aria-labelledby="usage-cost-title">
      <h2 id="usage-cost-title">Cost by user</h2>
      <div className="usage-chart" style={{ height: `${60 + Math.max(rows.length, 1) * 34}px` }}>
        <BarChart
          responsive
          layout="vertical"
          style={{ width: "100%", height: "100%" }}
          data={rows}
          margin={{ top: 4, right: 20, bottom: 4, left: 4 }}
          title="Cost by user"
          desc="Dollars of each user's reservations in the period."
        >
          <CartesianGrid stroke="#e3e7ed" horizontal={false} />
          <XAxis type="number" stroke="#5b6675" tickFormatter={(v: number) => `$${v}`} />
          <YAxis type="category" dataKey="user" width={90} stroke="#5b6675" />
          <Tooltip formatter={(v) => [dollars(Number(v)), "cost"]} />
          <Bar dataKey="cost" name="dollars" fill="#0e7c86" isAnimationActive={false} />
        </BarChart>
      </div>
      <figcaption>
        <ul className="usage-list">
          {rows.map((r) => (
            <li key={r.user}>
              {r.user}: {dollars(r.cost)}
            </li>
          ))}
        </ul>
      </figcaption>
    </figure>
  );
}
