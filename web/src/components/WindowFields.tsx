// Start and end of a booking in local time, on the server's booking grid, with quick lengths.
import type { Policy } from "../api/types";
import { ceilToGrid, fromLocalInput, HOUR_MS, toLocalInput } from "../lib/time";

interface Props {
  start: string;
  end: string;
  onChange: (start: string, end: string) => void;
  policy: Policy;
}

const LENGTHS = [1, 2, 4, 8, 24];

export function WindowFields({ start, end, onChange, policy }: Props) {
  const grid = policy.grid_minutes;
  const gridMs = grid * 60_000;
  const setLength = (hours: number) => {
    const s = fromLocalInput(start);
    if (s) onChange(start, toLocalInput(ceilToGrid(new Date(s.getTime() + hours * HOUR_MS), gridMs)));
  };
  // Moving the start keeps the length, as in any calendar; the end stays on the grid.
  const moveStart = (value: string) => {
    const s0 = fromLocalInput(start);
    const e0 = fromLocalInput(end);
    const s1 = fromLocalInput(value);
    if (!s0 || !e0 || !s1 || e0 <= s0) return onChange(value, end);
    onChange(value, toLocalInput(ceilToGrid(new Date(s1.getTime() + (e0.getTime() - s0.getTime())), gridMs)));
  };
  return (
    <fieldset className="window">
      <legend>Time window (your local time)</legend>
      <div className="grid2">
        <label htmlFor="book-start">
          Start
          <input
            id="book-start"
            type="datetime-local"
            step={grid * 60}
            value={start}
            onChange={(e) => moveStart(e.target.value)}
          />
        </label>
        <label htmlFor="book-end">
          End
          <input
            id="book-end"
            type="datetime-local"
            step={grid * 60}
            value={end}
            onChange={(e) => onChange(start, e.target.value)}
          />
        </label>
      </div>
      <div className="chips" role="group" aria-label="Quick choices: start now, or a length from the start">
        <button type="button" onClick={() => moveStart(toLocalInput(new Date()))}>
          Start now
        </button>
        {LENGTHS.map((h) => (
          <button type="button" key={h} onClick={() => setLength(h)}>
            {h < 24 ? `${h} h` : "1 day"}
          </button>
        ))}
      </div>
      <p className="help">
        Times snap to the {grid}-minute grid, except a start of “now”. A booking lasts {policy.min_length_minutes} min
        to {policy.max_length_hours} h and starts within {policy.horizon_days} days.
      </p>
    </fieldset>
  );
}
