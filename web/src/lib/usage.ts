// The Usage page's pure helpers: the ranges it offers, the viewer's time zone, and how figures
// are written (GPU-hours, shares that may be unknown, dollars with cents).
import type { UsageRow, UsageSession } from "../api/types";
import { DAY_MS, toUtcIso } from "./time";

export const RANGES = [
  { value: "7", label: "Last 7 days" },
  { value: "30", label: "Last 30 days" },
  { value: "90", label: "Last 90 days" },
] as const;
export type RangeDays = (typeof RANGES)[number]["value"];

export const GROUPINGS = [
  { value: "user", label: "User" },
  { value: "user,day", label: "User and day" },
  { value: "team", label: "Team" },
  { value: "team,pool,gpu_kind", label: "Team, pool and GPU kind" },
  { value: "pool,gpu_kind", label: "Pool and GPU kind" },
  { value: "user,pool,gpu_kind,day", label: "User, pool, GPU kind and day" },
] as const;
export type Grouping = (typeof GROUPINGS)[number]["value"];

/** [from, to) for the last `days` days: from local midnight `days - 1` days ago up to now. */
export function lastDays(now: Date, days: number): { from: string; to: string } {
  const start = new Date(now.getTime() - (days - 1) * DAY_MS);
  start.setHours(0, 0, 0, 0);
  return { from: toUtcIso(start), to: toUtcIso(now) };
}

/** The viewer's IANA time zone, so the days are their days; UTC when the browser gives none. */
export function viewerZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

const hoursFmt = new Intl.NumberFormat("en-US", { maximumFractionDigits: 1, minimumFractionDigits: 1 });
const cents = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD" });
const compact = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 });

export function gpuHours(n: number): string {
  return hoursFmt.format(n);
}

export function dollars(n: number): string {
  return cents.format(n);
}

/** A share, or a dash when it has no meaning (nothing reserved, nothing measured). */
export function share(v: number | null | undefined): string {
  return v === null || v === undefined ? "—" : `${(v * 100).toFixed(1)}%`;
}

export function tokens(n: number): string {
  return n > 0 ? compact.format(n) : "—";
}

export function perMtokOrDash(v: number | null | undefined): string {
  return v === null || v === undefined ? "—" : cents.format(v);
}

/** How a session is named in the idle chart: "alice · gpu ×1 · 6 Jan". */
export function sessionLabel(s: UsageSession): string {
  const day = new Date(s.start).toLocaleDateString("en-GB", { day: "numeric", month: "short" });
  return `${s.user} · ${s.gpu_kind} ×${s.gpu_count} · ${day}`;
}

/** The local days from `from` up to `to` (YYYY-MM-DD in the browser's zone, which is the zone
 *  the report was asked in), each with its row or an empty one: a chart over time needs them all. */
export function everyDay(rows: UsageRow[], from: string, to: string): UsageRow[] {
  const byDay = new Map(rows.map((r) => [r.day, r]));
  const out: UsageRow[] = [];
  const day = new Date(from);
  day.setHours(0, 0, 0, 0);
  const end = new Date(to).getTime();
  while (day.getTime() < end) {
    const key = `${day.getFullYear()}-${String(day.getMonth() + 1).padStart(2, "0")}-${String(day.getDate()).padStart(2, "0")}`;
    out.push(byDay.get(key) ?? { ...EMPTY, day: key });
    day.setDate(day.getDate() + 1);
  }
  return out;
}

const EMPTY: UsageRow = {
  reserved_gpu_hours: 0,
  measured_gpu_hours: 0,
  used_gpu_hours: 0,
  idle_gpu_hours: 0,
  measured_share: null,
  idle_share: null,
  cost: 0,
  tokens_prompt: 0,
  tokens_generated: 0,
  cost_per_mtok: null,
};
