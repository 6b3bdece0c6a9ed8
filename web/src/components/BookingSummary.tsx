// What the form would book, in one glance, beside the form.
import { fmtDuration, fmtRange } from "../lib/time";

interface Props {
  kind: string;
  count: number;
  mode: string;
  cpu: number;
  memoryGiB: number;
  start: Date | null;
  end: Date | null;
}

export function BookingSummary({ kind, count, mode, cpu, memoryGiB, start, end }: Props) {
  return (
    <div className="summary card">
      <p>
        <strong>
          {count} × {kind}
        </strong>{" "}
        ({mode}), {cpu} CPU, {memoryGiB} GiB memory
      </p>
      {start && end && end > start && (
        <p>
          {fmtRange(start, end)} <span className="muted">({fmtDuration(end.getTime() - start.getTime())})</span>
        </p>
      )}
    </div>
  );
}
