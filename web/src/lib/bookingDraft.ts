// The booking form's state and how it becomes a request body; pure, no React.
import type { Mode, Pool, ReservationCreate } from "../api/types";
import { defaultsFor } from "./usePools";
import { ceilToGrid, fromLocalInput, GRID_MS, HOUR_MS, toLocalInput, toUtcIso } from "./time";

export interface Draft {
  pool: string;
  kind: string;
  count: number;
  mode: Mode;
  cpu: string | null; // null: the kind's default for the count
  memoryGiB: string | null;
  start: string; // datetime-local values, local time
  end: string;
  engines: string[]; // what to stage on the pool's nodes before the window opens (catalog names)
  models: string[];
}

/** The form's first state: the query's choices, else the first pool and kind, two hours from
 *  the next grid point (`gridMs`: the server's booking grid). */
export function initialDraft(pools: Pool[], query: URLSearchParams, now: Date, gridMs = GRID_MS): Draft {
  const pool = pools.find((p) => p.name === query.get("pool")) ?? pools[0];
  const kind = pool?.kinds.find((k) => k.name === query.get("kind")) ?? pool?.kinds[0];
  const qStart = query.get("start");
  const qEnd = query.get("end");
  const start = qStart ? new Date(qStart) : ceilToGrid(now, gridMs);
  const end = qEnd ? new Date(qEnd) : new Date(start.getTime() + 2 * HOUR_MS);
  return {
    pool: pool?.name ?? "",
    kind: kind?.name ?? "",
    count: Math.max(1, Number(query.get("count")) || 1),
    mode: query.get("mode") === "inference" ? "inference" : "interactive",
    cpu: null,
    memoryGiB: null,
    start: toLocalInput(start),
    end: toLocalInput(end),
    engines: query.getAll("engine"),
    models: query.getAll("model"),
  };
}

export interface Resolved {
  cpu: number;
  memoryGiB: number;
  start: Date | null;
  end: Date | null;
  problems: string[];
  body: ReservationCreate | null;
}

/** Fill defaults, check what the browser can check, and build the API body. */
export function resolve(d: Draft, pools: Pool[]): Resolved {
  const pool = pools.find((p) => p.name === d.pool);
  const kind = pool?.kinds.find((k) => k.name === d.kind);
  const defaults = kind ? defaultsFor(kind, d.count) : { cpu: 0, memoryBytes: 0 };
  const cpu = d.cpu === null ? defaults.cpu : Number(d.cpu);
  const memoryGiB = d.memoryGiB === null ? defaults.memoryBytes / 2 ** 30 : Number(d.memoryGiB);
  const start = fromLocalInput(d.start);
  const end = fromLocalInput(d.end);
  const problems: string[] = [];
  if (!pool || !kind) problems.push("Choose a pool and a GPU kind.");
  if (kind && (d.count < 1 || d.count > kind.units)) problems.push(`Count must be between 1 and ${kind.units}.`);
  if (!(cpu > 0)) problems.push("CPU must be more than 0.");
  if (!(memoryGiB > 0)) problems.push("Memory must be more than 0 GiB.");
  if (!start || !end) problems.push("Give a start and an end.");
  else if (end <= start) problems.push("The end must be after the start.");
  const body: ReservationCreate | null =
    problems.length === 0 && start && end
      ? {
          pool: d.pool,
          start: toUtcIso(start),
          end: toUtcIso(end),
          gpu: { kind: d.kind, count: d.count },
          mode: d.mode,
          cpu,
          memory: `${memoryGiB}Gi`,
          ...(d.engines.length || d.models.length ? { stage: { engines: d.engines, models: d.models } } : {}),
        }
      : null;
  return { cpu, memoryGiB, start, end, problems, body };
}
