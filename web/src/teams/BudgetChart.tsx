// A team's GPU-hours per day of this month for one budget, with the week's and month's caps
// as text beside the bars (a month cap is a total, not a daily line).
import { Bar, BarChart, CartesianGrid, Tooltip, XAxis, YAxis } from "recharts";
import type { TeamBudget } from "../api/types";
import { gpuHours } from "../lib/usage";

export function BudgetChart({ budget, title }: { budget: TeamBudget; title: string }) {
  const rows = budget.daily.map((d) => ({ day: d.day, hours: d.gpu_hours }));
  return (
    <figure className="tk-curve usage-figure team-chart">
      <div className="usage-chart">
        <BarChart
          responsive
          style={{ width: "100%", height: "100%" }}
          data={rows}
          margin={{ top: 10, right: 20, bottom: 8, left: 4 }}
          title={title}
          desc="GPU-hours the team booked or used on each UTC day of this month"
        >
          <CartesianGrid stroke="#e3e7ed" vertical={false} />
          <XAxis dataKey="day" stroke="#5b6675" tickFormatter={(d: string) => d.slice(8)} />
          <YAxis stroke="#5b6675" width={48} />
          <Tooltip formatter={(v) => [`${gpuHours(Number(v))} GPU-h`, "booked or used"]} />
          <Bar dataKey="hours" name="GPU-hours" fill="#1f5fbf" isAnimationActive={false} />
        </BarChart>
      </div>
      <figcaption className="muted">{title}: GPU-hours per UTC day of this month</figcaption>
    </figure>
  );
}
