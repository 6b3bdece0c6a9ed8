// Week and day views of every booking; select a range to start a booking there.
import FullCalendar, { type CalendarRef } from "@fullcalendar/react";
import interactionPlugin from "@fullcalendar/react/interaction";
import classicTheme from "@fullcalendar/react/themes/classic";
import timeGridPlugin from "@fullcalendar/react/timegrid";
import "@fullcalendar/react/skeleton.css";
import "@fullcalendar/react/themes/classic/theme.css";
import "@fullcalendar/react/themes/classic/palette.css";
import { useCallback, useRef, useState } from "react";
import type { DateSelectInfo, DatesSetInfo, EventClickInfo, EventSourceFuncInfo } from "@fullcalendar/react";
import { api } from "../api/client";
import { CalendarToolbar, type CalendarView } from "../components/CalendarToolbar";
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
const WORKDAY_START = "08:00:00";

export default function CalendarPage() {
  const { query } = useLocation();
  const pools = usePools();
  const [pool, setPool] = useState(query.get("pool") ?? "");
  const [error, setError] = useState<unknown>(null);
  const [count, setCount] = useState<number | null>(null);
  const [title, setTitle] = useState("");
  const [view, setView] = useState<CalendarView>("timeGridWeek");
  const calendar = useRef<CalendarRef>(null);
  const scroller = useRef<HTMLDivElement>(null);
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

  const datesSet = (info: DatesSetInfo) => {
    setTitle(info.view.title);
    setView(info.view.type as CalendarView);
  };

  // The grid is as tall as the day; our own scroll box shows the working day first.
  const viewDidMount = () => {
    let last = -1;
    const scroll = (tries: number) => {
      const box = scroller.current;
      const row = box?.querySelector<HTMLElement>(`[data-time="${WORKDAY_START}"]`);
      if (box && row && row.getBoundingClientRect().height > 10) {
        const offset = row.getBoundingClientRect().top - box.getBoundingClientRect().top + box.scrollTop;
        // FullCalendar sizes its rows after mounting: scroll once the 08:00 row stops moving.
        if (Math.abs(offset - last) < 1) {
          box.scrollTop = offset - 40;
          return;
        }
        last = offset;
      }
      if (tries > 0) window.requestAnimationFrame(() => scroll(tries - 1));
    };
    scroll(60);
  };

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

  const cal = () => calendar.current?.getApi();

  return (
    <section aria-labelledby="cal-title" className="calendar-page">
      <h1 id="cal-title">Calendar</h1>
      <div className="toolbar-row">
        {pools.data && pools.data.length > 1 && (
          <PoolSelect pools={pools.data} value={pool} onChange={setPool} id="cal-pool" allLabel="All pools" />
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
      <CalendarToolbar
        title={title}
        view={view}
        onPrev={() => cal()?.prev()}
        onNext={() => cal()?.next()}
        onToday={() => cal()?.today()}
        onView={(v) => cal()?.changeView(v)}
      />
      <div className="cal-scroll" ref={scroller} tabIndex={0} role="region" aria-label="Calendar hours">
        <FullCalendar
          ref={calendar}
          plugins={PLUGINS}
          initialView="timeGridWeek"
          initialDate={initialDate}
          headerToolbar={false}
          height="auto"
          tableHeaderSticky
          allDaySlot={false}
          nowIndicator
          selectable
          selectMirror
          slotDuration="00:30:00"
          snapDuration="00:15:00"
          eventMaxStack={4}
          eventOrder={EVENT_ORDER}
          events={events}
          select={select}
          selectAllow={(span) => span.end.getTime() > Date.now()}
          eventClick={click}
          datesSet={datesSet}
          viewDidMount={viewDidMount}
        />
      </div>
    </section>
  );
}
