// Pure helpers of the notifications UI: kind names, the badge, the reminder minutes field.
import type { NotificationChannel, NotificationKind, NotificationPreferences } from "../api/types";

export const KINDS: { kind: NotificationKind; label: string }[] = [
  { kind: "ready", label: "Workspace ready" },
  { kind: "failed", label: "Provisioning failed" },
  { kind: "ending", label: "Window ends soon" },
  { kind: "idle", label: "Idle warning" },
  { kind: "released", label: "Released" },
  { kind: "request", label: "Approval requests and decisions" },
  { kind: "offer", label: "Waitlist offers" },
];

export const CHANNELS: { channel: NotificationChannel; label: string }[] = [
  { channel: "email", label: "E-mail" },
  { channel: "webhook", label: "Webhook" },
];

/** The bell's badge: the count, or "99+" past 99; nothing when all is read. */
export function badge(unread: number): string {
  if (unread <= 0) return "";
  return unread > 99 ? "99+" : String(unread);
}

/** "30, 5" → [30, 5], "" → [] (no reminders); an error message for anything else (the server
 * checks the range too). */
export function parseLeadMinutes(text: string): number[] | string {
  const parts = text
    .split(/[,\s]+/)
    .map((p) => p.trim())
    .filter(Boolean);
  const out: number[] = [];
  for (const p of parts) {
    if (!/^\d+$/.test(p)) return `"${p}" is not a whole number of minutes`;
    const n = Number(p);
    if (n < 1 || n > 1440) return `${n}: each reminder is between 1 and 1440 minutes before the end`;
    if (!out.includes(n)) out.push(n);
  }
  return out.sort((a, b) => b - a);
}

export function hasChannel(
  p: NotificationPreferences["channels"],
  kind: string,
  channel: NotificationChannel,
): boolean {
  return (p[kind] ?? []).includes(channel);
}

/** The channels with `channel` switched on or off for `kind`. */
export function toggleChannel(
  p: NotificationPreferences["channels"],
  kind: string,
  channel: NotificationChannel,
  on: boolean,
): NotificationPreferences["channels"] {
  const current = (p[kind] ?? []).filter((c) => c !== channel);
  return { ...p, [kind]: on ? [...current, channel] : current };
}
