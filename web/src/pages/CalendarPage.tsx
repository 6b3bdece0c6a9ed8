// Week and day views of every booking; select a range to start a booking there.
import FullCalendar from "@fullcalendar/react";
import interactionPlugin from "@fullcalendar/react/interaction";
import classicTheme from "@fullcalendar/react/themes/classic";
import timeGridPlugin from "@fullcalendar/react/timegrid";
import "@fullcalendar/react/skeleton.css";
import "@fullcalendar/react/themes/classic/theme.css";
import "@fullcalendar/react/themes/classic/palette.css";
import { useCallback, useState } from "react";
import { api } from "../api/client";
import type { DateSelectInfo, EventClickInfo, EventSourceFuncInfo } from "@fullcalendar/react";
import { ErrorNote } from "../components/ErrorNote";
import { Link } from "../components/Link";
import { PoolSelect } from "../components/PoolSelect";
import { toEvent, type CalendarEvent } from "../lib/calendarEvents";
import { navigate, useLocation } from "../lib/router";
import { toUtcIso } from "../lib/time";
import { usePools } from "../lib/usePools";

const PLUGINS = [timeGridPlugin, interactionPlugin, classicTheme];
// Own reservations are placed first, so on a crowded day they are never folded into "+N more".
const EVENT_ORDER = "-mine,start,-duration,title";
const TOOLBAR = { start: "prev,next today", center: "title", end: "timeGridWeek,timeGridDay" };

export default function CalendarPage() {
  const { query } = useLocation();
  const pools = usePools();
  const [pool, setPool] = useState(query.get("pool") ?? "");
  const [error, setError] = useState<unknown>(null);
  const [count, setCount] = useState<number | null>(null);
  const initialDate = query.get("date") ?? undefined;

  const events = useCallback(
    async (info: EventSourceFuncInfo): Promise<CalendarEvent[]> => {
      try {
        const entries = await api.calendar(toUtcIso(info.start), toUtcIso(info.end), pool || undefined);
        setError(null);
        setCount(entries.length);
        return entries.map(toEvent);
      } catch (err) {
        setError(err);
        return [];
      }
    },
    [pool],
  );

  const select = (info: DateSelectInfo) => {
    const q = new URLSearchParams({ start: toUtcIso(info.start), end: toUtcIso(info.end) });
    if (pool) q.set("pool", pool);
    navigate(`/book?${q}`);
  };

  const click = (info: EventClickInfo) => {
    if (info.event.url) {
      info.jsEvent.preventDefault();
      navigate(info.event.url);
    }
  };

  return (
    <section aria-labelledby="cal-title" className="calendar-page">
      <h1 id="cal-title">Calendar</h1>
      <div className="toolbar-row">
        {pools.data && pools.data.length > 1 && (
          <PoolSelect
            pools={[{ name: "", kinds: [], cpu: 0, memory: "", memory_bytes: 0, nodes: [] }, ...pools.data]}
            value={pool}
            onChange={setPool}
            id="cal-pool"
          />
        )}
        <p className="legend" aria-label="Legend">
          <span>
            <i className="ev-mine-swatch" /> your reservations
          </span>
          <span>
            <i className="ev-busy-swatch" /> booked by others
          </span>
          {count !== null && <span className="muted">{count} in view</span>}
        </p>
        <Link className="button primary" href="/book">
          Book a slot
        </Link>
      </div>
      <p className="help">Drag across free time to book it; times are in your local time zone.</p>
      <ErrorNote error={error} />
      <FullCalendar
        plugins={PLUGINS}
        initialView="timeGridWeek"
        initialDate={initialDate}
        headerToolbar={TOOLBAR}
        allDaySlot={false}
        nowIndicator
        selectable
        selectMirror
        slotDuration="00:30:00"
        snapDuration="00:15:00"
        scrollTime="08:00:00"
        height="calc(100vh - 15rem)"
        eventMaxStack={4}
        eventOrder={EVENT_ORDER}
        events={events}
        select={select}
        selectAllow={(span) => span.end.getTime() > Date.now()}
        eventClick={click}
      />
    </section>
  );
}
