// The audit log, newest first, filtered by actor and action, paged backwards.
import { useEffect, useState } from "react";
import { api } from "../api/client";
import type { AuditEntry } from "../api/types";
import { DataTable, type Column } from "../components/DataTable";
import { ErrorNote } from "../components/ErrorNote";
import { fmtStamp } from "../lib/time";
import { useDebounced } from "../lib/useDebounced";

const PAGE = 100;

function details(d: Record<string, unknown>): string {
  return Object.entries(d)
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`)
    .join(", ");
}

const COLUMNS: Column<AuditEntry>[] = [
  { header: "When", cell: (r) => fmtStamp(r.at), cellClassName: "nowrap" },
  { header: "Actor", cell: (r) => r.actor },
  { header: "Action", cell: (r) => <code>{r.action}</code> },
  { header: "Target", cell: (r) => r.target, cellClassName: "wrap" },
  { header: "Details", cell: (r) => details(r.details), cellClassName: "wrap" },
  { header: "Client", cell: (r) => r.client ?? "" },
];

export function AuditAdmin() {
  const [actor, setActor] = useState("");
  const [action, setAction] = useState("");
  const filters = useDebounced({ actor, action }, 300);
  const [rows, setRows] = useState<AuditEntry[]>([]);
  const [more, setMore] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const load = async (beforeId?: number) => {
    try {
      const page = await api.audit({
        actor: filters.actor || undefined,
        action: filters.action || undefined,
        before_id: beforeId,
        limit: PAGE,
      });
      setRows((old) => (beforeId ? [...old, ...page] : page));
      setMore(page.length === PAGE);
      setError(null);
    } catch (err) {
      setError(err);
    }
  };

  useEffect(() => {
    void load();
  }, [filters]);

  return (
    <section aria-labelledby="adm-audit-title">
      <h2 id="adm-audit-title">Audit log</h2>
      <form className="inline-form" onSubmit={(e) => e.preventDefault()} aria-label="Audit filters">
        <label htmlFor="a-actor">
          Actor
          <input id="a-actor" value={actor} onChange={(e) => setActor(e.target.value)} />
        </label>
        <label htmlFor="a-action">
          Action
          <input
            id="a-action"
            placeholder="reservation.create"
            value={action}
            onChange={(e) => setAction(e.target.value)}
          />
        </label>
      </form>
      <ErrorNote error={error} />
      <DataTable
        className="audit"
        caption="Audit entries, newest first"
        columns={COLUMNS}
        rows={rows}
        rowKey={(r) => r.id}
      />
      {more && (
        <button type="button" onClick={() => void load(rows[rows.length - 1]?.id)}>
          Load older entries
        </button>
      )}
    </section>
  );
}
