// Whether a request fits, checked live against the pool's availability before submitting.
import { useEffect, useState } from "react";
import { api } from "../api/client";
import { messageOf } from "../api/problem";
import { checkFit, minFree, type Demand, type Shortfall } from "../lib/fit";
import { fmtAmount } from "../lib/quantity";
import { fmtRange, toUtcIso } from "../lib/time";
import { useDebounced } from "../lib/useDebounced";

export interface FitRequest {
  pool: string;
  kind: string;
  demand: Demand;
  start: Date;
  end: Date;
}

type Result =
  | { state: "checking" }
  | { state: "fits"; kindFree: number; capacity: number }
  | { state: "short"; shortfall: Shortfall }
  | { state: "error"; message: string };

/** `generation` changes when the pool's bookings may have changed (after booking): check anew. */
export function FitCheck({ request, generation = 0 }: { request: FitRequest | null; generation?: number }) {
  const key = request
    ? JSON.stringify({ ...request, start: request.start.getTime(), end: request.end.getTime(), generation })
    : "";
  const settled = useDebounced(key, 300);
  const [result, setResult] = useState<Result | null>(null);

  useEffect(() => {
    if (!settled) {
      setResult(null);
      return;
    }
    const req = JSON.parse(settled) as Omit<FitRequest, "start" | "end"> & { start: number; end: number };
    let live = true;
    setResult({ state: "checking" });
    const start = new Date(req.start);
    const end = new Date(req.end);
    api.availability(req.pool, toUtcIso(start), toUtcIso(end)).then(
      (a) => {
        if (!live) return;
        const shortfall = checkFit(a.steps, req.demand, start, end);
        if (shortfall) setResult({ state: "short", shortfall });
        else
          setResult({
            state: "fits",
            kindFree: minFree(a.steps, req.start, req.end)[req.kind] ?? 0,
            capacity: a.capacity[req.kind] ?? 0,
          });
      },
      (err: unknown) => live && setResult({ state: "error", message: messageOf(err) }),
    );
    return () => {
      live = false;
    };
  }, [settled]);

  let body = null;
  if (!request) body = <span className="muted">Choose a window to check whether it fits.</span>;
  else if (!result || result.state === "checking" || settled !== key)
    body = <span className="muted">Checking availability…</span>;
  else if (result.state === "fits")
    body = (
      <span className="fit-ok">
        ✓ Fits: at least {result.kindFree} of {result.capacity} × {request.kind} free for the whole window.
      </span>
    );
  else if (result.state === "short") {
    const s = result.shortfall;
    body = (
      <span className="fit-short">
        ✗ Does not fit: {fmtAmount(s.resource, s.free)} free, {fmtAmount(s.resource, s.asked)} asked,{" "}
        {fmtRange(s.start, s.end)}. Booking it will be refused with the nearest slot that fits.
      </span>
    );
  } else body = <span className="error">Could not check: {result.message}</span>;

  return (
    <p className="fitcheck" role="status" aria-live="polite">
      {body}
    </p>
  );
}
