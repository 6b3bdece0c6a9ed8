// Book: pool, GPU kind and count, mode, CPU and memory, window; checked live, then submitted.
import { useState, type FormEvent } from "react";
import { api } from "../api/client";
import { ApiError, type Problem } from "../api/problem";
import type { Catalog, Policy, Pool, Reservation, WaitlistEntry } from "../api/types";
import { BookedPanel } from "../components/BookedPanel";
import { BookingSummary } from "../components/BookingSummary";
import { ErrorNote } from "../components/ErrorNote";
import { FitCheck } from "../components/FitCheck";
import { GpuRequestFields } from "../components/GpuRequestFields";
import { ModeField } from "../components/ModeField";
import { PoolSelect } from "../components/PoolSelect";
import { RefusalPanel } from "../components/RefusalPanel";
import { ResourceFields } from "../components/ResourceFields";
import { StageFields } from "../components/StageFields";
import { TeamField } from "../components/TeamField";
import { WindowFields } from "../components/WindowFields";
import { initialDraft, resolve, type Draft } from "../lib/bookingDraft";
import { useLocation } from "../lib/router";
import { toLocalInput } from "../lib/time";
import { useLoad } from "../lib/useLoad";
import { usePolicy } from "../lib/usePolicy";
import { defaultsFor, usePools } from "../lib/usePools";

export function BookPage() {
  const pools = usePools();
  const policy = usePolicy();
  const catalog = useLoad(() => api.catalog(), []);
  const error = pools.error ?? policy.error ?? catalog.error;
  return (
    <section aria-labelledby="book-title">
      <h1 id="book-title">Book GPU capacity</h1>
      <ErrorNote error={error} />
      {pools.data && policy.data && catalog.data ? (
        <BookForm pools={pools.data} policy={policy.data} catalog={catalog.data} />
      ) : (
        !error && <p role="status">Loading…</p>
      )}
    </section>
  );
}

function BookForm({ pools, policy, catalog }: { pools: Pool[]; policy: Policy; catalog: Catalog }) {
  const { query } = useLocation();
  const [draft, setDraft] = useState<Draft>(() => initialDraft(pools, query, new Date(), policy.grid_minutes * 60_000));
  const [busy, setBusy] = useState(false);
  const [refusal, setRefusal] = useState<Problem | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [booked, setBooked] = useState<Reservation | null>(null);
  const [joining, setJoining] = useState(false);
  const [joined, setJoined] = useState<WaitlistEntry | null>(null);
  const [generation, setGeneration] = useState(0);
  const teams = useLoad(() => api.teams(), []);
  const [team, setTeam] = useState("");

  const pool = pools.find((p) => p.name === draft.pool);
  const kind = pool?.kinds.find((k) => k.name === draft.kind);
  const r = resolve(draft, pools);
  const defaults = kind ? defaultsFor(kind, draft.count) : { cpu: 0, memoryBytes: 0 };
  const update = (patch: Partial<Draft>) => {
    setDraft((d) => ({ ...d, ...patch }));
    setRefusal(null);
    setBooked(null);
    setJoined(null);
  };

  const joinWaitlist = async () => {
    if (!r.body) return;
    setJoining(true);
    setError(null);
    try {
      setJoined(await api.joinWaitlist(team ? { ...r.body, team } : r.body));
    } catch (err) {
      setError(err);
    } finally {
      setJoining(false);
    }
  };

  // `ask`: over the team's budget, ask for approval instead ("Ask anyway" on the budget's 409)
  const send = async (ask: boolean) => {
    if (!r.body) return;
    setBusy(true);
    setError(null);
    setRefusal(null);
    setJoined(null);
    try {
      const body = { ...r.body, ...(team ? { team } : {}), ...(ask ? { ask: true } : {}) };
      setBooked(await api.book(body));
      setGeneration((g) => g + 1);
    } catch (err) {
      if (err instanceof ApiError && err.status === 409) setRefusal(err.problem);
      else setError(err);
    } finally {
      setBusy(false);
    }
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void send(false);
  };

  const fitRequest =
    r.body && r.start && r.end && kind
      ? {
          pool: draft.pool,
          kind: kind.name,
          demand: { [kind.name]: draft.count, cpu: r.cpu, memory_bytes: r.memoryGiB * 2 ** 30 },
          start: r.start,
          end: r.end,
        }
      : null;

  return (
    <form className="book-layout" onSubmit={submit} noValidate aria-describedby="book-problems">
      <div className="book-form card">
        <div className="grid2">
          <PoolSelect
            pools={pools}
            value={draft.pool}
            onChange={(p) => update({ pool: p, kind: pools.find((x) => x.name === p)?.kinds[0]?.name ?? "", count: 1 })}
            id="book-pool"
          />
        </div>
        <div className="grid2">
          <GpuRequestFields
            kinds={pool?.kinds ?? []}
            kind={draft.kind}
            count={draft.count}
            onKind={(k) => update({ kind: k, count: 1 })}
            onCount={(c) => update({ count: c })}
            idPrefix="book"
          />
        </div>
        <TeamField teams={teams.data ?? []} value={team} onChange={setTeam} />
        <ModeField value={draft.mode} onChange={(mode) => update({ mode })} />
        <ResourceFields
          cpu={r.cpu}
          memoryGiB={r.memoryGiB}
          defaultCpu={defaults.cpu}
          defaultMemoryGiB={defaults.memoryBytes / 2 ** 30}
          onCpu={(cpu) => update({ cpu })}
          onMemory={(memoryGiB) => update({ memoryGiB })}
        />
        <WindowFields
          start={draft.start}
          end={draft.end}
          onChange={(start, end) => update({ start, end })}
          policy={policy}
        />
        <StageFields
          catalog={catalog}
          engines={draft.engines}
          models={draft.models}
          onChange={(engines, models) => update({ engines, models })}
        />
      </div>
      <aside className="book-side" aria-label="Check and book">
        <BookingSummary
          kind={draft.kind}
          count={draft.count}
          mode={draft.mode}
          cpu={r.cpu}
          memoryGiB={r.memoryGiB}
          start={r.start}
          end={r.end}
        />
        <div id="book-problems">
          {r.problems.length > 0 && (
            <ul className="problems">
              {r.problems.map((p) => (
                <li key={p}>{p}</li>
              ))}
            </ul>
          )}
        </div>
        {!booked && <FitCheck request={fitRequest} generation={generation} />}
        <ErrorNote error={error} />
        {refusal && (
          <RefusalPanel
            problem={refusal}
            onUseSuggestion={(start, end) =>
              update({ start: toLocalInput(new Date(start)), end: toLocalInput(new Date(end)) })
            }
            onJoinWaitlist={joinWaitlist}
            joining={joining}
            joined={joined}
            onAsk={() => void send(true)}
          />
        )}
        {booked && <BookedPanel reservation={booked} />}
        <div className="actions">
          <button type="submit" className="primary" disabled={busy || !r.body || booked !== null}>
            {busy ? "Booking…" : "Book"}
          </button>
        </div>
      </aside>
    </form>
  );
}
