// Staging as a person reads it, and the cache's byte figures; pure, no React.
import type { CacheArtifact, Staging } from "../api/types";
import { fmtDateTime } from "./time";

/** Bytes for a person: 101713920 -> "97.0 MiB" (binary units, as the CLI prints them). */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let size = n;
  let i = 0;
  while (size >= 1024 && i < units.length - 1) {
    size /= 1024;
    i++;
  }
  return i === 0 ? `${size} B` : `${size.toFixed(1)} ${units[i]}`;
}

export interface StagingView {
  /** The words: "staged", "staging 63%", "waiting", "failed: integrity-mismatch". */
  label: string;
  /** A bar's value (0-100) while bytes are moving, else null (no bar). */
  percent: number | null;
  tone: "ok" | "busy" | "waiting" | "danger";
  /** A second line: when a wait should end, or what failed where. */
  note: string | null;
}

export function stagingView(s: Staging | null | undefined): StagingView | null {
  if (!s) return null;
  switch (s.state) {
    case "staged":
      return { label: "staged", percent: null, tone: "ok", note: null };
    case "staging":
      return { label: `staging ${s.percent}%`, percent: s.percent, tone: "busy", note: null };
    case "failed":
      return {
        label: `failed: ${s.reason ?? "unknown reason"}`,
        percent: null,
        tone: "danger",
        note: [s.model && s.node ? `${s.model} on ${s.node}` : null, s.detail].filter(Boolean).join(" — ") || null,
      };
    default:
      return {
        label: "waiting",
        percent: null,
        tone: "waiting",
        note: s.expected_start ? `downloads expected to begin by ${fmtDateTime(s.expected_start)}` : null,
      };
  }
}

/** The bytes an artifact has on the node: all of it once ready. */
export function artifactDone(a: CacheArtifact): number {
  return a.state === "ready" ? a.size_bytes : a.downloaded_bytes;
}

/** `names` with `name` added or removed, in the order the catalog lists them. */
export function toggle(names: string[], name: string, on: boolean, order: string[]): string[] {
  const set = new Set(names);
  if (on) set.add(name);
  else set.delete(name);
  return order.filter((n) => set.has(n));
}
