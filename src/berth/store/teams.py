"""Teams (docs/teams.md): who is in which, and which team a booking is for.

A team's people are its group's members (as of their last sign-in) and the `team_members`
rows admins add; the view `team_people` (migration 0017) is their union, one row per person
with `lead` when any row says so. Budgets are checked in the booking transaction
(`store.reservations.book`, `domain.teams`).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from berth.store.db import Tx
from berth.store.errors import Invalid
from berth.store.models import TEAM_PEOPLE, Team
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
    """The team a booking of `who` is for: the named one (they must be in it; an admin may
    book for any team), else their only team, else none when they are in no team. Someone in
    several teams must choose (422 naming them)."""
    if team is not None:
        row = tx.execute(select(Team.id).where(Team.name == team)).first()
        allowed = row is not None and (
            who.is_admin or any(m.team_id == row.id for m in of_user(tx, who.id))
        )
        if row is not None and allowed:
            return int(row.id)
        raise Invalid("team", f"team: you are not in a team named {team!r}")
    mine = of_user(tx, who.id)
    if len(mine) > 1:
        names = ", ".join(m.name for m in mine)
        raise Invalid("team", f"team: you are in several teams; choose one of {names}")
    return mine[0].team_id if mine else None
