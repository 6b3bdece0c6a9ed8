// Our own calendar toolbar: the period's title, previous/next/today, and week or day view.
// It sits outside the scrolling grid, so it stays in view while the hours scroll.
export type CalendarView = "timeGridWeek" | "timeGridDay";

interface Props {
  title: string;
  view: CalendarView;
  onPrev: () => void;
  onNext: () => void;
  onToday: () => void;
  onView: (view: CalendarView) => void;
}

export function CalendarToolbar({ title, view, onPrev, onNext, onToday, onView }: Props) {
  const unit = view === "timeGridWeek" ? "week" : "day";
  return (
    <div className="cal-toolbar">
      <div className="actions" role="group" aria-label="Move in time">
        <button type="button" onClick={onPrev} aria-label={`Previous ${unit}`}>
          ‹
        </button>
        <button type="button" onClick={onNext} aria-label={`Next ${unit}`}>
          ›
        </button>
        <button type="button" onClick={onToday}>
          Today
        </button>
      </div>
      <h2 aria-live="polite">{title}</h2>
      <div className="actions segmented" role="group" aria-label="View">
        <button type="button" aria-pressed={view === "timeGridWeek"} onClick={() => onView("timeGridWeek")}>
          Week
        </button>
        <button type="button" aria-pressed={view === "timeGridDay"} onClick={() => onView("timeGridDay")}>
          Day
        </button>
      </div>
    </div>
  );
}
