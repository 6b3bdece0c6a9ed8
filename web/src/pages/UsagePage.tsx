// The cost ledger: what the bookings held against what they used, and what that cost. Users
// see their own reservations, admins everyone's (the API decides). Days are the viewer's days.
import { useMemo, useState } from "react";
import { api, usageCsvUrl, type UsageQuery } from "../api/client";
import { ErrorNote } from "../components/ErrorNote";
import { SelectField } from "../components/SelectField";
import { useLoad } from "../lib/useLoad";
import {
  everyDay,
  dollars,
  GROUPINGS,
  gpuHours,
  lastDays,
  RANGES,
  share,
  viewerZone,
  type Grouping,
  type RangeDays,
} from "../lib/usage";
import { CostByUser } from "../usage/CostByUser";
import { ReservedVsUsed } from "../usage/ReservedVsUsed";
import { TopIdle } from "../usage/TopIdle";
import { UsageTable } from "../usage/UsageTable";

export default function UsagePage() {
  const [days, setDays] = useState<RangeDays>("30");
  const [grouping, setGrouping] = useState<Grouping>("user");
  const base = useMemo(() => ({ ...lastDays(new Date(), Number(days)), tz: viewerZone() }), [days]);
  const query: UsageQuery = { ...base, group_by: grouping };
  const perDay = useLoad(() => api.usage({ ...base, group_by: "day", top: 0 }), [base]);
  const perUser = useLoad(() => api.usage({ ...base, group_by: "user", top: 20 }), [base]);
  const table = useLoad(() => api.usage({ ...query, top: 0 }), [base, grouping]);
  const total = perUser.data?.total;

  return (
    <section aria-labelledby="usage-title">
      <h1 id="usage-title">Usage</h1>
      <p className="muted usage-intro">
        GPU-hours your bookings held against what the GPUs measured as busy, and what that cost at the tokenomics
        model's rate per GPU-hour. Idle share counts measured time only. See <code>docs/usage.md</code>.
        {perUser.data?.everyone ? " As an admin you see every user's reservations." : ""}
      </p>
      <form className="inline-form" onSubmit={(e) => e.preventDefault()}>
        <SelectField id="usage-range" label="Period" value={days} choices={RANGES} onChange={setDays} />
        <SelectField
          id="usage-group"
          label="Table rows by"
          value={grouping}
          choices={GROUPINGS}
          onChange={setGrouping}
        />
        <a className="button" href={usageCsvUrl(query)} download>
          Download CSV
        </a>
      </form>
      <ErrorNote error={perDay.error ?? perUser.error ?? table.error} />
      {total && (
        <dl className="usage-totals" aria-label="Totals">
          <div>
            <dt>Reserved</dt>
            <dd>{gpuHours(total.reserved_gpu_hours)} GPU-h</dd>
          </div>
          <div>
            <dt>Used</dt>
            <dd>{gpuHours(total.used_gpu_hours)} GPU-h</dd>
          </div>
          <div>
            <dt>Measured</dt>
            <dd>{share(total.measured_share)}</dd>
          </div>
          <div>
            <dt>Idle</dt>
            <dd>{share(total.idle_share)}</dd>
          </div>
          <div>
            <dt>Cost</dt>
            <dd>{dollars(total.cost)}</dd>
          </div>
        </dl>
      )}
      <div className="usage-grid">
        {perDay.data && <ReservedVsUsed days={everyDay(perDay.data.rows, base.from, base.to)} />}
        {perUser.data && <CostByUser users={perUser.data.rows} />}
        {perUser.data && <TopIdle sessions={perUser.data.sessions} />}
      </div>
      {table.data ? (
        <section aria-labelledby="usage-table-title">
          <h2 id="usage-table-title">Ledger</h2>
          <UsageTable rows={table.data.rows} total={table.data.total} groupBy={table.data.group_by} />
          <p className="help">
            Rates:{" "}
            {table.data.rates
              .map(
                (r) =>
                  `${r.pool}/${r.gpu_kind} ${dollars(r.held_per_gpu_hour)} per reserved + ${dollars(r.load_per_gpu_hour)} per used GPU-hour (${r.source})`,
              )
              .join("; ")}
            .
          </p>
        </section>
      ) : (
        !table.error && <p role="status">Loading…</p>
      )}
    </section>
  );
}
