// Dollars per user in the period (per team once teams exist, issue 17).
import type { UsageRow } from "../api/types";
import { dollars } from "../lib/usage";
import { HorizontalBars } from "./HorizontalBars";

export function CostByUser({ users }: { users: UsageRow[] }) {
  const rows = [...users].sort((a, b) => b.cost - a.cost).map((u) => ({ label: u.user ?? "", value: u.cost }));
  return (
    <figure className="tk-curve usage-figure" aria-labelledby="usage-cost-title">
      <h2 id="usage-cost-title">Cost by user</h2>
      <HorizontalBars
        rows={rows}
        title="Cost by user"
        desc="Dollars of each user's reservations in the period."
        colour="#0e7c86"
        labelWidth={90}
        format={dollars}
        tick={(v) => `$${v}`}
      />
      <figcaption>
        <ul className="usage-list">
          {rows.map((r) => (
            <li key={r.label}>
              {r.label}: {dollars(r.value)}
            </li>
          ))}
        </ul>
      </figcaption>
    </figure>
  );
}
