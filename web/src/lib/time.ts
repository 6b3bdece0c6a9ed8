// Times: the API speaks UTC ISO strings with Z; people see their local time.

export const GRID_MINUTES = 15; // the server's default booking grid (BERTH_GRID_MINUTES)
export const GRID_MS = GRID_MINUTES * 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;

/** UTC ISO string without milliseconds, e.g. 2030-01-07T09:00:00Z. */
export function toUtcIso(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

export function ceilToGrid(d: Date, gridMs = GRID_MS): Date {
  return new Date(Math.ceil(d.getTime() / gridMs) * gridMs);
}

export function floorToGrid(d: Date, gridMs = GRID_MS): Date {
  return new Date(Math.floor(d.getTime() / gridMs) * gridMs);
}

const pad = (n: number) => String(n).padStart(2, "0");

/** Value for <input type="datetime-local"> in local time. */
export function toLocalInput(d: Date): string {
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}` + `T${pad(d.getHours())}:${pad(d.getMinutes())}`
  );
}

/** A datetime-local value (local time) as a Date; null when empty or invalid. */
export function fromLocalInput(value: string): Date | null {
  if (!value) return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d;
}

const dateTime = new Intl.DateTimeFormat(undefined, {
  weekday: "short",
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
});
const timeOnly = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const fullStamp = new Intl.DateTimeFormat(undefined, {
  year: "numeric",
  month: "short",
  day: "numeric",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
});

const asDate = (t: string | Date) => (typeof t === "string" ? new Date(t) : t);

export function fmtDateTime(t: string | Date): string {
  return dateTime.format(asDate(t));
}

export function fmtStamp(t: string | Date): string {
  return fullStamp.format(asDate(t));
}

export function fmtTime(t: string | Date): string {
  return timeOnly.format(asDate(t));
}

function sameDay(a: Date, b: Date): boolean {
  return a.toDateString() === b.toDateString();
}

export function fmtRange(start: string | Date, end: string | Date): string {
  const s = asDate(start);
  const e = asDate(end);
  return sameDay(s, e) ? `${fmtDateTime(s)} – ${fmtTime(e)}` : `${fmtDateTime(s)} – ${fmtDateTime(e)}`;
}

/** A span such as "2d 3h", "3h 05m" or "4m 09s". */
export function fmtDuration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(total / 86400);
  const h = Math.floor((total % 86400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${pad(m)}m`;
  return `${m}m ${pad(s)}s`;
}
