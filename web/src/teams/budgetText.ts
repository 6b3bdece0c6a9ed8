// Words for a team budget's caps and what is left of them.
import type { TeamBudget } from "../api/types";
import { gpuHours } from "../lib/usage";

export function capText(b: TeamBudget): string[] {
  const out: string[] = [];
  if (b.max_units != null) out.push(`${b.units_now} of ${b.max_units} x ${b.gpu_kind} held now`);
  if (b.gpu_hours_week != null)
    out.push(
      `${gpuHours(b.week_used)} of ${gpuHours(b.gpu_hours_week)} GPU-hours this week (${gpuHours(b.week_left ?? 0)} left)`,
    );
  if (b.gpu_hours_month != null)
    out.push(
      `${gpuHours(b.month_used)} of ${gpuHours(b.gpu_hours_month)} GPU-hours this month (${gpuHours(b.month_left ?? 0)} left)`,
    );
  if (out.length === 0) out.push("no cap");
  return out;
}

/** The share of a cap used, 0..1, for a meter; null without a cap. */
export function usedShare(used: number, cap: number | null | undefined): number | null {
  if (cap == null) return null;
  if (cap <= 0) return 1;
  return Math.min(1, used / cap);
}
