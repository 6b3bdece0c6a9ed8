// Every reservation, filtered by status, pool, owner and time.
import { useState } from "react";
import { api } from "../api/client";
import { STATUSES, type Reservation, type Status } from "../api/types";
import { CancelButton } from "../components/CancelButton";
import { DataTable, type Column } from "../components/DataTable";
import { ErrorNote } from "../components/ErrorNote";
import { PoolSelect } from "../components/PoolSelect";
import { SelectField } from "../components/SelectField";
import { StatusBadge } from "../components/StatusBadge";
import { stagingView } from "../lib/staging";
import { fmtRange, fromLocalInput, toUtcIso } from "../lib/time";
import { useLoad } from "../lib/useLoad";
import { usePools } from "../lib/usePools";

export function ReservationsAdmin() {
  const pools = usePools();
  const [status, setStatus] = useState<Status | "">("");
  const [pool, setPool] = useState("");
  const [owner, setOwner] = useState("");
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const fromD = fromLocalInput(from);
  const toD = fromLocalInput(to);
  const list = useLoad(
    () =>
      api.reservations({
        status: status ? [status] : undefined,
        pool: pool || undefined,
        from: fromD ? toUtcIso(fromD) : undefined,
        to: toD ? toUtcIso(toD) : undefined,
        limit: 2000,
      }),
    [status, pool, from, to],
  );
  const rows = (list.data ?? []).filter((r) => !owner || r.owner.toLowerCase().includes(owner.toLowerCase()));
  const columns: Column<Reservation>[] = [
    { header: "Owner", cell: (r) => r.owner },
    { header: "Status", cell: (r) => <StatusBadge status={r.status} /> },
    {
      header: "GPU",
      cell: (r) => (
        <>
          {r.gpu.count} × {r.gpu.kind}
        </>
      ),
      cellClassName: "nowrap",
    },
    { header: "When", cell: (r) => fmtRange(r.start, r.end), cellClassName: "nowrap" },
    { header: "Pool", cell: (r) => r.pool },
    { header: "Mode", cell: (r) => r.mode },
    {
      header: "CPU / memory",
      cell: (r) => (
        <>
          {r.cpu} / {r.memory}
        </>
      ),
    },
    { header: "Staging", cell: (r) => stagingView(r.staging)?.label ?? "" },
    { header: "Reason", cell: (r) => r.reason ?? "" },
    {
      header: "Actions",
      srOnlyHeader: true,
      cell: (r) =>
        (r.status === "APPROVED" || r.status === "ACTIVE") && <CancelButton reservation={r} onDone={list.reload} />,
    },
  ];

  return (
    <section aria-labelledby="adm-res-title">
      <h2 id="adm-res-title">All reservations</h2>
      <form className="inline-form" onSubmit={(e) => e.preventDefault()} aria-label="Filters">
        <SelectField
          id="f-status"
          label="Status"
          value={status}
          choices={[{ value: "", label: "any" }, ...STATUSES.map((s) => ({ value: s, label: s }))]}
          onChange={setStatus}
        />
        <label htmlFor="f-owner">
          Owner
          <input id="f-owner" value={owner} onChange={(e) => setOwner(e.target.value)} />
        </label>
        {pools.data && <PoolSelect pools={pools.data} value={pool} onChange={setPool} id="f-pool" allLabel="any" />}
        <label htmlFor="f-from">
          From
          <input id="f-from" type="datetime-local" value={from} onChange={(e) => setFrom(e.target.value)} />
        </label>
        <label htmlFor="f-to">
          To
          <input id="f-to" type="datetime-local" value={to} onChange={(e) => setTo(e.target.value)} />
        </label>
      </form>
      <ErrorNote error={list.error} />
      <DataTable
        caption="Reservations matching the filters"
        columns={columns}
        rows={rows}
        rowKey={(r) => r.id}
        empty={list.data && "No reservations match."}
      />
    </section>
  );
}
