// Your teams: who is in them, their budgets per pool and GPU kind, what is used and left, and
// GPU-hours per day of this month as a chart. Admins see every team and can make teams, add
// people and leads, and set budgets. See docs/teams.md.
import { useState, type FormEvent } from "react";
import { api } from "../api/client";
import type { Team } from "../api/types";
import { ErrorNote } from "../components/ErrorNote";
import { Field } from "../components/Field";
import { useLoad } from "../lib/useLoad";
import { BudgetChart } from "../teams/BudgetChart";
import { capText, usedShare } from "../teams/budgetText";

export default function TeamsPage({ isAdmin }: { isAdmin: boolean }) {
  const teams = useLoad(() => api.teams(), []);
  return (
    <section aria-labelledby="teams-title">
      <h1 id="teams-title">Teams</h1>
      <p className="muted">
        A booking counts against its team&apos;s budget in its pool: units at once and GPU-hours a UTC week and month (a
        MIG slice counts as its fraction of a GPU). {isAdmin ? "As an admin you see every team." : ""}
      </p>
      <ErrorNote error={teams.error} />
      {teams.data && teams.data.length === 0 && <p>You are in no team: your bookings count against no budget.</p>}
      {teams.data?.map((t) => (
        <TeamCard key={t.name} team={t} isAdmin={isAdmin} onChange={teams.reload} />
      ))}
      {isAdmin && <NewTeamForm onDone={teams.reload} />}
    </section>
  );
}

function TeamCard({ team, isAdmin, onChange }: { team: Team; isAdmin: boolean; onChange: () => void }) {
  return (
    <article className="card team" aria-labelledby={`team-${team.name}`}>
      <h2 id={`team-${team.name}`}>
        {team.name} {team.lead && <span className="badge badge-active">you lead it</span>}
      </h2>
      <p className="muted">
        {team.group ? `From the group ${team.group}. ` : ""}
        {team.members.length} {team.members.length === 1 ? "person" : "people"}:{" "}
        {team.members.map((m) => `${m.username}${m.lead ? " (lead)" : ""}`).join(", ") || "none yet"}
      </p>
      {team.budgets.length === 0 && <p>No budget: the team books like anyone, up to the pools&apos; capacity.</p>}
      {team.budgets.map((b) => {
        const title = `${b.gpu_kind} in ${b.pool}`;
        return (
          <div key={`${b.pool}/${b.gpu_kind}`} className="team-budget">
            <h3>{title}</h3>
            <ul>
              {capText(b).map((line) => (
                <li key={line}>{line}</li>
              ))}
            </ul>
            {[
              ["Week", usedShare(b.week_used, b.gpu_hours_week)],
              ["Month", usedShare(b.month_used, b.gpu_hours_month)],
            ].map(([label, share]) =>
              share == null ? null : (
                <label key={label as string} className="team-meter">
                  {label} <meter min={0} max={1} low={0.7} high={0.9} optimum={0} value={share as number} />
                </label>
              ),
            )}
            <BudgetChart budget={b} title={title} />
          </div>
        );
      })}
      {isAdmin && <TeamAdminForms team={team.name} onDone={onChange} />}
    </article>
  );
}

function NewTeamForm({ onDone }: { onDone: () => void }) {
  const [name, setName] = useState("");
  const [group, setGroup] = useState("");
  const [error, setError] = useState<unknown>();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    api.createTeam(name, group).then(() => {
      setName("");
      setGroup("");
      setError(undefined);
      onDone();
    }, setError);
  };
  return (
    <form className="inline-form" onSubmit={submit} aria-label="New team">
      <Field id="team-name" label="Team name">
        <input id="team-name" value={name} onChange={(e) => setName(e.target.value)} required />
      </Field>
      <Field id="team-group" label="From group (optional)">
        <input id="team-group" value={group} onChange={(e) => setGroup(e.target.value)} />
      </Field>
      <button type="submit" className="primary">
        Make team
      </button>
      <ErrorNote error={error} />
    </form>
  );
}

const numberOrNull = (s: string): number | null => (s.trim() === "" ? null : Number(s));

function TeamAdminForms({ team, onDone }: { team: string; onDone: () => void }) {
  const [user, setUser] = useState("");
  const [lead, setLead] = useState(false);
  const [pool, setPool] = useState("");
  const [kind, setKind] = useState("");
  const [units, setUnits] = useState("");
  const [week, setWeek] = useState("");
  const [month, setMonth] = useState("");
  const [error, setError] = useState<unknown>();
  const done = () => {
    setError(undefined);
    onDone();
  };
  const addMember = (e: FormEvent) => {
    e.preventDefault();
    api.setTeamMember(team, user, lead).then(done, setError);
  };
  const setBudget = (e: FormEvent) => {
    e.preventDefault();
    api
      .setTeamBudget(team, pool, kind, {
        max_units: numberOrNull(units),
        gpu_hours_week: numberOrNull(week),
        gpu_hours_month: numberOrNull(month),
      })
      .then(done, setError);
  };
  const id = (s: string) => `${team}-${s}`;
  return (
    <details className="team-admin">
      <summary>Change {team}</summary>
      <form className="inline-form" onSubmit={addMember} aria-label={`Add a person to ${team}`}>
        <Field id={id("user")} label="Person">
          <input id={id("user")} value={user} onChange={(e) => setUser(e.target.value)} required />
        </Field>
        <label>
          <input type="checkbox" checked={lead} onChange={(e) => setLead(e.target.checked)} /> lead
        </label>
        <button type="submit">Add or update</button>
      </form>
      <form className="inline-form" onSubmit={setBudget} aria-label={`Set a budget of ${team}`}>
        <Field id={id("pool")} label="Pool">
          <input id={id("pool")} value={pool} onChange={(e) => setPool(e.target.value)} required />
        </Field>
        <Field id={id("kind")} label="GPU kind">
          <input id={id("kind")} value={kind} onChange={(e) => setKind(e.target.value)} required />
        </Field>
        <Field id={id("units")} label="Units at once">
          <input id={id("units")} inputMode="numeric" value={units} onChange={(e) => setUnits(e.target.value)} />
        </Field>
        <Field id={id("week")} label="GPU-hours a week">
          <input id={id("week")} inputMode="decimal" value={week} onChange={(e) => setWeek(e.target.value)} />
        </Field>
        <Field id={id("month")} label="GPU-hours a month">
          <input id={id("month")} inputMode="decimal" value={month} onChange={(e) => setMonth(e.target.value)} />
        </Field>
        <button type="submit">Set budget</button>
      </form>
      <ErrorNote error={error} />
    </details>
  );
}
