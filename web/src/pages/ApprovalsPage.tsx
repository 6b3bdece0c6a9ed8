// Approvals: the PENDING requests the signed-in person may decide (a team lead: their teams'; an
// admin: all), the soonest to expire first. Approve, or reject with a reason the owner is told.
import { useState, type FormEvent } from "react";
import { api } from "../api/client";
import type { Approval } from "../api/types";
import { ErrorNote } from "../components/ErrorNote";
import { fmtDateTime, fmtRange } from "../lib/time";
import { useLoad } from "../lib/useLoad";

export function ApprovalsPage() {
  const list = useLoad(() => api.approvals(), [], 30_000);
  const items = list.data ?? [];
  return (
    <section aria-labelledby="approvals-title">
      <h1 id="approvals-title">Approvals</h1>
      <ErrorNote error={list.error} />
      {!list.data && !list.error && <p role="status">Loading…</p>}
      {list.data && items.length === 0 && (
        <p>
          Nothing to decide. Requests of the teams you lead (an admin: everyone&apos;s) appear here while they wait for
          approval.
        </p>
      )}
      <div className="cards">
        {items.map((a) => (
          <ApprovalCard key={a.id} request={a} onDone={list.reload} />
        ))}
      </div>
    </section>
  );
}

function ApprovalCard({ request: a, onDone }: { request: Approval; onDone: () => void }) {
  const [rejecting, setRejecting] = useState(false);
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const titleId = `approval-${a.id}`;

  const run = async (act: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await act();
      onDone();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const reject = (e: FormEvent) => {
    e.preventDefault();
    if (reason.trim()) void run(() => api.reject(a.id, reason.trim()));
  };

  return (
    <article className="card approval" aria-labelledby={titleId}>
      <header>
        <h3 id={titleId}>
          {a.owner}: {a.gpu.count} × {a.gpu.kind} <span className="muted">in {a.pool}</span>
        </h3>
      </header>
      <dl className="facts">
        <div>
          <dt>When</dt>
          <dd>{fmtRange(a.start, a.end)}</dd>
        </div>
        <div>
          <dt>Team</dt>
          <dd>{a.team ?? "none"}</dd>
        </div>
        <div>
          <dt>Why</dt>
          <dd>{a.reason}</dd>
        </div>
        <div>
          <dt>Held until</dt>
          <dd>{a.hold_until ? fmtDateTime(a.hold_until) : ""}</dd>
        </div>
      </dl>
      <ErrorNote error={error} />
      {!rejecting ? (
        <div className="row-actions">
          <button type="button" className="primary" disabled={busy} onClick={() => void run(() => api.approve(a.id))}>
            Approve
          </button>
          <button type="button" className="danger" disabled={busy} onClick={() => setRejecting(true)}>
            Reject
          </button>
        </div>
      ) : (
        <form onSubmit={reject}>
          <label>
            Reason (told to {a.owner})
            <textarea value={reason} maxLength={500} required onChange={(e) => setReason(e.target.value)} />
          </label>
          <div className="row-actions">
            <button type="button" onClick={() => setRejecting(false)}>
              Back
            </button>
            <button type="submit" className="danger" disabled={busy || !reason.trim()}>
              Reject request
            </button>
          </div>
        </form>
      )}
    </article>
  );
}
