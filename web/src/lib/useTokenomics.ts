// The Tokenomics page's figures: cost, curve and break-even for one request body, asked together.
// A refused body (422) keeps the last accepted figures on screen and reports the refusal.
import { useEffect, useRef, useState } from "react";
import { api } from "../api/client";
import type { BreakevenReport, CostReport, CurveReport, TokenomicsRequest } from "../api/types";

export interface Figures {
  cost: CostReport;
  curve: CurveReport;
  breakeven: BreakevenReport;
}

export interface Computed {
  figures: Figures | undefined;
  error: unknown;
  errorFor: TokenomicsRequest | null; // the body the error answers, so a stale one can be told
  busy: boolean;
}

export function useTokenomics(body: TokenomicsRequest | null): Computed {
  const [figures, setFigures] = useState<Figures>();
  const [error, setError] = useState<{ error: unknown; body: TokenomicsRequest | null }>();
  const [busy, setBusy] = useState(false);
  const latest = useRef(0);

  useEffect(() => {
    if (!body) return;
    const id = ++latest.current;
    setBusy(true);
    Promise.all([api.tokenomicsCost(body), api.tokenomicsCurve(body), api.tokenomicsBreakeven(body)]).then(
      ([cost, curve, breakeven]) => {
        if (id !== latest.current) return;
        setFigures({ cost, curve, breakeven });
        setError(undefined);
        setBusy(false);
      },
      (err: unknown) => {
        if (id !== latest.current) return;
        setError({ error: err, body });
        setBusy(false);
      },
    );
  }, [body]);

  return { figures, error: error?.error, errorFor: error?.body ?? null, busy };
}
