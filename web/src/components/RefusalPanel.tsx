// A refused booking: the API's reason (which resource, when, free vs asked), its suggestion,
// "Join the waitlist" when the API offers it, and "Ask anyway" when a team budget refused it.
import type { Problem } from "../api/problem";
import type { WaitlistEntry } from "../api/types";
import { Link } from "./Link";
import { fmtAmount, resourceLabel } from "../lib/quantity";
import { fmtRange } from "../lib/time";

interface Props {
  problem: Problem;
  onUseSuggestion: (start: string, end: string) => void;
  onJoinWaitlist?: () => void;
  joining?: boolean;
  joined?: WaitlistEntry | null;
  /** Book the same again as an approval request (offered when the team's budget refused it). */
  onAsk?: () => void;
}

export function RefusalPanel({ problem, onUseSuggestion, onJoinWaitlist, joining, joined, onAsk }: Props) {
  const s = problem.shortage;
  const sug = problem.suggestion;
  return (
    <div className="refusal" role="alert" aria-labelledby="refusal-title">
      <h2 id="refusal-title">The booking was refused</h2>
      <p>{problem.detail}</p>
      {s && (
        <p>
          Short of <strong>{resourceLabel(s.resource)}</strong>: {fmtAmount(s.resource, s.free)} free,{" "}
          {fmtAmount(s.resource, s.asked)} asked, {fmtRange(s.start, s.end)}.
        </p>
      )}
      {problem.errors && problem.errors.length > 0 && !s && (
        <ul>
          {problem.errors.map((e) => (
            <li key={e.field + e.message}>{e.message}</li>
          ))}
        </ul>
      )}
      {problem.ask && onAsk && (
        <p className="ask">
          A team lead or an admin may approve it anyway.{" "}
          <button type="button" className="primary" onClick={onAsk}>
            Ask anyway
          </button>
        </p>
      )}
      {sug ? (
        <p className="suggestion">
          Nearest slot that fits: <strong>{fmtRange(sug.start, sug.end)}</strong>{" "}
          <button type="button" className="primary" onClick={() => onUseSuggestion(sug.start, sug.end)}>
            Use the suggested slot
          </button>
        </p>
      ) : (
        problem.status === 409 && s && <p>No slot of the same length fits in the next days; try fewer units.</p>
      )}
      {problem.waitlist &&
        onJoinWaitlist &&
        (joined ? (
          <p role="status">
            On the waitlist: you are told when this request is offered to you.{" "}
            <Link href="/waitlist">See your waitlist</Link>
          </p>
        ) : (
          <p className="waitlist">
            Or wait for this exact request: when capacity frees, it may be offered to you.{" "}
            <button type="button" disabled={joining} onClick={onJoinWaitlist}>
              {joining ? "Joining…" : "Join the waitlist"}
            </button>
          </p>
        ))}
    </div>
  );
}
