"""Teams (docs/teams.md): who is in which, and which team a booking is for.

A team's people are its group's members (as of their last sign-in) and the `team_members`
rows admins add; the view `team_people` (migration 0017) is their union, one row per person
with `lead` when any row says so. Budgets are checked in the booking transaction
(`store.reservations.book`, `domain.teams`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import delete as delete_
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert

from berth.domain.identity import TEAM_NAME, team_name
from berth.domain.pool import Pool
from berth.domain.teams import (
    Budget,
    Held,
    check,
    gpu_hours,
    month_start,
    next_month,
    remaining,
    span,
    week_start,
)
from berth.store import audit
from berth.store.db import Tx
from berth.store.errors import Conflict, Invalid, NotFound, OverBudget
from berth.store.locks import POOL_BOOKING
from berth.store.models import (
    TEAM_PEOPLE,
    Group,
    Reservation,
    Team,
    TeamBudget,
    TeamMember,
    User,
)
from berth.store.users import Principal


@dataclass(frozen=True)
class Membership:
    team_id: int
    name: str
    lead: bool


def of_user(tx: Tx, user_id: int) -> list[Membership]:
    """The teams a user is in, by name."""
    q = (
        select(Team.id, Team.name, TEAM_PEOPLE.c.lead)
        .join(TEAM_PEOPLE, TEAM_PEOPLE.c.team_id == Team.id)
        .where(TEAM_PEOPLE.c.user_id == user_id)
        .order_by(Team.name)
    )
    return [Membership(i, n, bool(lead)) for i, n, lead in tx.execute(q).all()]


def for_booking(tx: Tx, who: Principal, team: str | None) -> int | None:
    """The team a booking of `who` is for (`choose`), read with queries of its own. The
    booking path reads the same inside `berth_booking_view`, under its locks."""
    named = None
    if team is not None:
        named = tx.execute(select(Team.id).where(Team.name == team)).scalar()
    return choose(who, team, of_user(tx, who.id), named)


def choose(
    who: Principal, team: str | None, mine: Sequence[Membership], named: int | None
) -> int | None:
    """The team a booking of `who` is for: the named one (`named`: its id, None when no team
    has that name; they must be in it, an admin may book for any team), else their only
    team (`mine`: the teams they are in), else none when they are in no team. Someone in
    several teams must choose (422 naming them)."""
    if team is not None:
        if named is not None and (who.is_admin or any(m.team_id == named for m in mine)):
            return int(named)
        raise Invalid("team", f"team: you are not in a team named {team!r}")
    if len(mine) > 1:
        names = ", ".join(m.name for m in mine)
        raise Invalid("team", f"team: you are in several teams; choose one of {names}")
    return mine[0].team_id if mine else None


_HELD_STATUSES = ("PENDING", "APPROVED", "ACTIVE", "COMPLETED")
_HOLDING_STATUSES = ("PENDING", "APPROVED", "ACTIVE")


def budget_of(tx: Tx, team_id: int, pool: str, gpu_kind: str) -> tuple[str, Budget] | None:
    """The team's name and its budget for one pool and GPU kind, or None without one."""
    row = tx.execute(
        select(
            Team.name,
            TeamBudget.max_units,
            TeamBudget.gpu_hours_week,
            TeamBudget.gpu_hours_month,
        )
        .join(TeamBudget, TeamBudget.team_id == Team.id)
        .where(Team.id == team_id, TeamBudget.pool == pool, TeamBudget.gpu_kind == gpu_kind)
    ).first()
    if row is None:
        return None
    name, units, week, month = row
    return name, Budget(gpu_kind, units, _float(week), _float(month))


def _float(v: Decimal | None) -> float | None:
    return None if v is None else float(v)


def held(
    tx: Tx,
    team_id: int,
    pool: str,
    gpu_kind: str,
    start: datetime,
    end: datetime,
    exclude: uuid.UUID | None = None,
) -> tuple[list[Held], list[Held]]:
    """The team's reservations of a pool and kind overlapping [start, end): those holding
    capacity, and those plus the completed ones."""
    q = select(
        Reservation.start_at, Reservation.end_at, Reservation.gpu_count, Reservation.status
    ).where(
        Reservation.team_id == team_id,
        Reservation.pool == pool,
        Reservation.gpu_kind == gpu_kind,
        Reservation.status.in_(_HELD_STATUSES),
        Reservation.start_at < end,
        Reservation.end_at > start,
    )
    if exclude is not None:
        q = q.where(Reservation.id != exclude)
    every, holding = [], []
    for s, e, n, status in tx.execute(q).all():
        h = Held(s, e, n)
        every.append(h)
        if status in _HOLDING_STATUSES:
            holding.append(h)
    return holding, every


def check_budget(
    tx: Tx,
    team_id: int | None,
    pool: Pool,
    gpu_kind: str,
    new: Held,
    exclude: uuid.UUID | None = None,
) -> OverBudget | None:
    """The refusal of a booking (or an extension's added time, `exclude` being the
    reservation extended) that would break its team's budget in the pool, else None. Called
    under the pool's booking lock, which serializes every booking of the pool and so every
    change to the team's use of this budget."""
    if team_id is None:
        return None
    found = budget_of(tx, team_id, pool.name, gpu_kind)
    if found is None:
        return None
    name, budget = found
    lo, hi = span(budget, new.start, new.end)
    holding, every = held(tx, team_id, pool.name, gpu_kind, lo, hi, exclude)
    fraction = pool.gpu_fractions().get(gpu_kind, 1.0)
    over = check(budget, fraction, holding, every, new)
    if over is None:
        return None
    return OverBudget(
        team=name,
        pool=pool.name,
        gpu_kind=gpu_kind,
        budget=over.budget,
        limit=over.limit,
        used=over.used,
        asked=over.asked,
        period_start=over.period_start if over.budget != "units" else None,
    )


# ---- making and changing teams (admins; teams from groups at sign-in) ----


def from_groups(tx: Tx, provider: str, groups: Iterable[str], client: str | None = None) -> None:
    """Make a team for each of a provider's `groups` that has none (BERTH_TEAM_GROUPS, at a
    member's sign-in). A group whose team name is taken by another team is left alone."""
    for group in groups:
        name = team_name(group)
        gid = tx.scalar(select(Group.id).where(Group.provider == provider, Group.name == group))
        if name is None or gid is None:
            continue
        made = tx.execute(
            insert(Team).values(name=name, group_id=gid).on_conflict_do_nothing().returning(Team.id)
        ).first()
        if made is not None:
            audit.record(
                tx, "berth", "team.create", f"team:{name}", {"group": f"{provider}:{group}"}, client
            )


def get(tx: Tx, name: str) -> Team:
    team = tx.scalar(select(Team).where(Team.name == name))
    if team is None:
        raise NotFound(f"no team {name!r}")
    return team


def visible(tx: Tx, who: Principal, name: str) -> Team:
    """A team the caller may see: theirs, or any for an admin (404 otherwise)."""
    team = get(tx, name)
    if not who.is_admin and not any(m.team_id == team.id for m in of_user(tx, who.id)):
        raise NotFound(f"no team {name!r}")
    return team


def list_visible(tx: Tx, who: Principal) -> list[Team]:
    q = select(Team).order_by(Team.name)
    if not who.is_admin:
        q = q.join(TEAM_PEOPLE, TEAM_PEOPLE.c.team_id == Team.id).where(
            TEAM_PEOPLE.c.user_id == who.id
        )
    return list(tx.scalars(q).all())


def _group_id(tx: Tx, group: str) -> int:
    """A group named `provider:name`, or `name` when one provider has it."""
    provider, _, name = group.rpartition(":")
    q = select(Group.id, Group.provider).where(Group.name == (name if provider else group))
    if provider:
        q = q.where(Group.provider == provider)
    found = tx.execute(q).all()
    if not found:
        raise Invalid("group", f"group: nobody has signed in from a group {group!r} yet")
    if len(found) > 1:
        raise Invalid("group", f"group: several providers have {group!r}; write provider:name")
    return int(found[0].id)


def create(tx: Tx, who: Principal, name: str, group: str | None, client: str | None = None) -> Team:
    if not TEAM_NAME.match(name):
        raise Invalid("name", "name: lower-case letters, digits, '.', '_' and '-', at most 64")
    if tx.scalar(select(Team.id).where(Team.name == name)) is not None:
        raise Conflict(f"a team {name!r} exists")
    gid = _group_id(tx, group) if group else None
    if gid is not None and tx.scalar(select(Team.name).where(Team.group_id == gid)):
        raise Conflict(f"group {group!r} already makes a team")
    team = Team(name=name, group_id=gid)
    tx.add(team)
    tx.flush()
    audit.record(tx, who.username, "team.create", f"team:{name}", {"group": group}, client)
    return team


def delete(tx: Tx, who: Principal, name: str, client: str | None = None) -> None:
    team = get(tx, name)
    if tx.scalar(select(Reservation.id).where(Reservation.team_id == team.id).limit(1)):
        raise Conflict(f"team {name!r} has reservations; it stays for their accounting")
    tx.delete(team)
    audit.record(tx, who.username, "team.delete", f"team:{name}", {}, client)


def set_member(
    tx: Tx, who: Principal, name: str, username: str, lead: bool, client: str | None = None
) -> None:
    team = get(tx, name)
    user_id = tx.scalar(select(User.id).where(User.username == username))
    if user_id is None:
        raise NotFound(f"no user {username!r}")
    tx.execute(
        insert(TeamMember)
        .values(team_id=team.id, user_id=user_id, lead=lead)
        .on_conflict_do_update(index_elements=["team_id", "user_id"], set_={"lead": lead})
    )
    audit.record(
        tx, who.username, "team.member", f"team:{name}", {"user": username, "lead": lead}, client
    )


def remove_member(
    tx: Tx, who: Principal, name: str, username: str, client: str | None = None
) -> None:
    """Remove the row an admin added (a group's members stay while they are in the group)."""
    team = get(tx, name)
    user_id = tx.scalar(select(User.id).where(User.username == username))
    gone = tx.execute(
        delete_(TeamMember)
        .where(TeamMember.team_id == team.id, TeamMember.user_id == user_id)
        .returning(TeamMember.user_id)
    ).first()
    if not gone:
        raise NotFound(f"{username!r} was not added to team {name!r}")
    audit.record(tx, who.username, "team.member.remove", f"team:{name}", {"user": username}, client)


def set_budget(
    tx: Tx,
    who: Principal,
    name: str,
    pool: Pool,
    gpu_kind: str,
    budget: Budget,
    client: str | None = None,
) -> None:
    """Set (or replace) a team's budget for a pool and GPU kind. Under the pool's booking
    lock, so a booking of the pool sees the old budget or the new one, whole."""
    team = get(tx, name)
    if gpu_kind not in pool.kinds():
        raise Invalid("gpu_kind", f"gpu_kind: pool {pool.name!r} has no {gpu_kind!r}")
    tx.execute(
        text("SELECT pg_advisory_xact_lock(:k, hashtext(:p))"), {"k": POOL_BOOKING, "p": pool.name}
    )
    values = {
        "max_units": budget.max_units,
        "gpu_hours_week": budget.gpu_hours_week,
        "gpu_hours_month": budget.gpu_hours_month,
    }
    tx.execute(
        insert(TeamBudget)
        .values(team_id=team.id, pool=pool.name, gpu_kind=gpu_kind, **values)
        .on_conflict_do_update(index_elements=["team_id", "pool", "gpu_kind"], set_=values)
    )
    audit.record(
        tx,
        who.username,
        "team.budget",
        f"team:{name}",
        {"pool": pool.name, "gpu_kind": gpu_kind, **values},
        client,
    )


def remove_budget(
    tx: Tx, who: Principal, name: str, pool: str, gpu_kind: str, client: str | None = None
) -> None:
    team = get(tx, name)
    gone = tx.execute(
        delete_(TeamBudget)
        .where(
            TeamBudget.team_id == team.id, TeamBudget.pool == pool, TeamBudget.gpu_kind == gpu_kind
        )
        .returning(TeamBudget.team_id)
    ).first()
    if not gone:
        raise NotFound(f"team {name!r} has no budget for {gpu_kind!r} in pool {pool!r}")
    audit.record(
        tx,
        who.username,
        "team.budget.remove",
        f"team:{name}",
        {"pool": pool, "gpu_kind": gpu_kind},
        client,
    )


# ---- what a team page shows ----


@dataclass(frozen=True)
class Person:
    username: str
    lead: bool
    added: bool  # an admin added them (else they are in through the team's group)


def people(tx: Tx, team: Team) -> list[Person]:
    added = dict(
        tx.execute(
            select(TeamMember.user_id, TeamMember.lead).where(TeamMember.team_id == team.id)
        ).all()
    )
    q = (
        select(User.id, User.username, TEAM_PEOPLE.c.lead)
        .join(TEAM_PEOPLE, TEAM_PEOPLE.c.user_id == User.id)
        .where(TEAM_PEOPLE.c.team_id == team.id)
        .order_by(User.username)
    )
    return [Person(u, bool(lead), uid in added) for uid, u, lead in tx.execute(q).all()]


def group_name(tx: Tx, team: Team) -> str | None:
    if team.group_id is None:
        return None
    row = tx.execute(select(Group.provider, Group.name).where(Group.id == team.group_id)).first()
    return f"{row.provider}:{row.name}" if row else None


@dataclass(frozen=True)
class BudgetUse:
    pool: str
    gpu_kind: str
    budget: Budget
    units_now: int  # units of the kind the team holds at this instant
    periods: dict[str, float | None]  # week_used, week_left, month_used, month_left
    daily: list[tuple[date, float]]  # GPU-hours per UTC day of the current month


def budgets(
    tx: Tx, team: Team, pools_by_name: Mapping[str, Pool], now: datetime
) -> list[BudgetUse]:
    rows = tx.execute(
        select(TeamBudget)
        .where(TeamBudget.team_id == team.id)
        .order_by(TeamBudget.pool, TeamBudget.gpu_kind)
    ).scalars()
    out = []
    for b in rows:
        budget = Budget(
            b.gpu_kind, b.max_units, _float(b.gpu_hours_week), _float(b.gpu_hours_month)
        )
        pool = pools_by_name.get(b.pool)
        fraction = pool.gpu_fractions().get(b.gpu_kind, 1.0) if pool else 1.0
        lo = min(week_start(now), month_start(now))
        hi = max(week_start(now) + timedelta(days=7), next_month(month_start(now)))
        holding, every = held(tx, team.id, b.pool, b.gpu_kind, lo, hi)
        units_now = sum(h.count for h in holding if h.start <= now < h.end)
        daily = []
        day = month_start(now)
        while day < next_month(month_start(now)):
            daily.append(
                (day.date(), round(gpu_hours(every, fraction, day, day + timedelta(days=1)), 2))
            )
            day += timedelta(days=1)
        out.append(
            BudgetUse(
                b.pool,
                b.gpu_kind,
                budget,
                units_now,
                remaining(budget, fraction, every, now),
                daily,
            )
        )
    return out
