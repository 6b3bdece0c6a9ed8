// Admin: all reservations, users, the audit log, health and the node cache, one tab each.
import { useRef, useState, type KeyboardEvent } from "react";
import { AuditAdmin } from "../admin/AuditAdmin";
import { CacheAdmin } from "../admin/CacheAdmin";
import { HealthAdmin } from "../admin/HealthAdmin";
import { ReservationsAdmin } from "../admin/ReservationsAdmin";
import { UsersAdmin } from "../admin/UsersAdmin";

const TABS = [
  { id: "reservations", label: "Reservations", Panel: ReservationsAdmin },
  { id: "users", label: "Users", Panel: UsersAdmin },
  { id: "audit", label: "Audit log", Panel: AuditAdmin },
  { id: "health", label: "Health", Panel: HealthAdmin },
  { id: "cache", label: "Cache", Panel: CacheAdmin },
] as const;

export default function AdminPage() {
  const [current, setCurrent] = useState(0);
  const refs = useRef<(HTMLButtonElement | null)[]>([]);
  const tab = TABS[current]!;

  const onKey = (e: KeyboardEvent) => {
    const step = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
    if (!step) return;
    const next = (current + step + TABS.length) % TABS.length;
    setCurrent(next);
    refs.current[next]?.focus();
  };

  return (
    <section aria-labelledby="admin-title">
      <h1 id="admin-title">Admin</h1>
      <div role="tablist" aria-label="Admin sections" className="tabs" onKeyDown={onKey}>
        {TABS.map((t, i) => (
          <button
            key={t.id}
            ref={(el) => {
              refs.current[i] = el;
            }}
            role="tab"
            id={`tab-${t.id}`}
            aria-selected={i === current}
            aria-controls={`panel-${t.id}`}
            tabIndex={i === current ? 0 : -1}
            onClick={() => setCurrent(i)}
          >
            {t.label}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`panel-${tab.id}`} aria-labelledby={`tab-${tab.id}`}>
        <tab.Panel />
      </div>
    </section>
  );
}
