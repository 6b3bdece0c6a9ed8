// Which team a booking is for: nothing to choose with no team or one (the API takes the only
// one), a required choice with several. Budgets are per team (docs/teams.md).
import type { Team } from "../api/types";
import { Field } from "./Field";

export function TeamField({ teams, value, onChange }: { teams: Team[]; value: string; onChange: (t: string) => void }) {
  const [only] = teams;
  if (!only) return null;
  if (teams.length === 1) return <p className="muted">For team {only.name}: it counts against its budget.</p>;
  return (
    <Field id="book-team" label="For team">
      <select id="book-team" value={value} onChange={(e) => onChange(e.target.value)} required>
        <option value="">Choose a team…</option>
        {teams.map((t) => (
          <option key={t.name} value={t.name}>
            {t.name}
          </option>
        ))}
      </select>
    </Field>
  );
}
