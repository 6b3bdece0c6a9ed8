// Calendar entries as FullCalendar events: one's own distinct from others' busy blocks.
import type { CalendarEntry } from "../api/types";

export interface CalendarEvent {
  id?: string;
  title: string;
  start: string;
  end: string;
  className: string;
  url?: string;
  extendedProps: { mine: boolean; status: string };
}

export function toEvent(e: CalendarEntry): CalendarEvent {
  const what = `${e.gpu.count} × ${e.gpu.kind}`;
  const who = e.mine ? "Mine" : (e.owner ?? "Busy");
  // a PENDING block holds its capacity while it waits for approval (or a waitlist answer)
  const done = e.status === "COMPLETED" ? " (ended)" : e.status === "PENDING" ? " (pending)" : "";
  return {
    id: e.id ?? undefined,
    title: `${who}: ${what}${done}`,
    start: e.start,
    end: e.end,
    className: e.mine ? "ev-mine" : "ev-busy",
    url: e.mine ? "/reservations" : undefined,
    extendedProps: { mine: e.mine, status: e.status },
  };
}
