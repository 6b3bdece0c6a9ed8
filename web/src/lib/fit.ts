// Pure capacity checks against an availability timeline: does a request fit, and when next.
import type { Step } from "../api/types";

/** What a request needs: GPU units of its kind, `cpu` in cores, `memory_bytes`. */
export type Demand = Record<string, number>;

export interface Shortfall {
  resource: string;
  start: Date;
  end: Date;
  free: number;
  asked: number;
}

export interface Slot {
  start: Date;
  /** The latest start (same length) that still fits without a gap. */
  latestStart: Date;
}

interface Span {
  start: number;
  end: number;
  free: Record<string, number>;
}

function spans(steps: Step[]): Span[] {
  return steps.map((s) => ({
    start: Date.parse(s.start),
    end: Date.parse(s.end),
    free: s.free,
  }));
}

function shortIn(span: Span, demand: Demand): string | null {
  for (const [resource, asked] of Object.entries(demand)) {
    if ((span.free[resource] ?? 0) < asked) return resource;
  }
  return null;
}

/** The first shortage of `demand` inside [start, end), or null when it fits throughout. */
export function checkFit(steps: Step[], demand: Demand, start: Date, end: Date): Shortfall | null {
  const s0 = start.getTime();
  const e0 = end.getTime();
  for (const span of spans(steps)) {
    if (span.end <= s0 || span.start >= e0) continue;
    const resource = shortIn(span, demand);
    if (resource) {
      return {
        resource,
        start: new Date(Math.max(span.start, s0)),
        end: new Date(Math.min(span.end, e0)),
        free: span.free[resource] ?? 0,
        asked: demand[resource] ?? 0,
      };
    }
  }
  return null;
}

/**
 * Start times on the grid, within [from, until], where `demand` fits for `durationMs`,
 * grouped into runs of consecutive fitting starts; at most `max` runs.
 */
export function freeSlots(
  steps: Step[],
  demand: Demand,
  durationMs: number,
  from: Date,
  until: Date,
  gridMs: number,
  max = 5,
): Slot[] {
  const all = spans(steps);
  const ok = all.map((s) => shortIn(s, demand) === null);
  const fitsAt = (t: number): boolean => {
    const end = t + durationMs;
    if (all.length === 0 || end > all[all.length - 1]!.end || t < all[0]!.start) return false;
    for (let i = 0; i < all.length; i++) {
      const s = all[i]!;
      if (s.end <= t) continue;
      if (s.start >= end) break;
      if (!ok[i]) return false;
    }
    return true;
  };
  const slots: Slot[] = [];
  let run: Slot | null = null;
  const first = Math.ceil(from.getTime() / gridMs) * gridMs;
  for (let t = first; t + durationMs <= until.getTime(); t += gridMs) {
    if (fitsAt(t)) {
      if (run) run.latestStart = new Date(t);
      else run = { start: new Date(t), latestStart: new Date(t) };
    } else if (run) {
      slots.push(run);
      run = null;
      if (slots.length >= max) return slots;
    }
  }
  if (run && slots.length < max) slots.push(run);
  return slots;
}

/** The least free amount of every resource over [start, end): one heatmap cell per resource. */
export function minFree(steps: Step[], start: number, end: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of steps) {
    const ss = Date.parse(s.start);
    const se = Date.parse(s.end);
    if (se <= start || ss >= end) continue;
    for (const [resource, free] of Object.entries(s.free)) {
      out[resource] = Math.min(out[resource] ?? Number.POSITIVE_INFINITY, free);
    }
  }
  return out;
}
