// "starts in 2h 05m" / "ends in 14m 09s" / "ended" for a reservation's window.
import type { Status } from "../api/types";
import { fmtDuration } from "../lib/time";

export function Countdown({ start, end, status, now }: { start: string; end: string; status: Status; now: Date }) {
  if (status !== "APPROVED" && status !== "ACTIVE") return null;
  const t = now.getTime();
  const s = Date.parse(start);
  const e = Date.parse(end);
  let text: string;
  if (t < s) text = `starts in ${fmtDuration(s - t)}`;
  else if (t < e) text = `ends in ${fmtDuration(e - t)}`;
  else text = "window over";
  return <span className="countdown">{text}</span>;
}
