"""Teams, their people and budgets (docs/teams.md). Members and admins see a team; admins
make teams, add people and leads, and set budgets."""

from __future__ import annotations

from fastapi import APIRouter, Response

from berth.api import problems, schemas
from berth.api.deps import DB, Admin, Client, Now, User
from berth.domain.teams import Budget
from berth.store import pools, teams
from berth.store.db import Tx
from berth.store.models import Team
from berth.store.users import Principal

router = APIRouter(prefix="/teams", tags=["teams"])


def _public(tx: Tx, team: Team, who: Principal, now: Now) -> schemas.TeamPublic:
    by_name = {p.name: p for p in pools.list_all(tx)}
    people = teams.people(tx, team)
    return schemas.TeamPublic(
        name=team.name,
        group=teams.group_name(tx, team),
        lead=any(p.username == who.username and p.lead for p in people),
        members=[schemas.TeamMemberPublic(username=p.username, lead=p.lead, added=p.added)
                 for p in people],
        budgets=[
            schemas.TeamBudgetPublic(
                pool=b.pool,
                gpu_kind=b.gpu_kind,
                max_units=b.budget.max_units,
                gpu_hours_week=b.budget.gpu_hours_week,
                gpu_hours_month=b.budget.gpu_hours_month,
                units_now=b.units_now,
                week_used=b.periods["week_used"] or 0.0,
                week_left=b.periods["week_left"],
                month_used=b.periods["month_used"] or 0.0,
                month_left=b.periods["month_left"],
                daily=[schemas.TeamDay(day=d, gpu_hours=h) for d, h in b.daily],
            )
            for b in teams.budgets(tx, team, by_name, now)
        ],
    )  # fmt: skip


@router.get("", operation_id="listTeams")
def list_(who: User, db: DB, now: Now) -> list[schemas.TeamPublic]:
    """Your teams (admins: every team), with people and budgets used and left."""
    with db.transaction() as tx:
        return [_public(tx, t, who, now) for t in teams.list_visible(tx, who)]


@router.get("/{name}", operation_id="getTeam", responses=problems.responses(404))
def get(name: str, who: User, db: DB, now: Now) -> schemas.TeamPublic:
    with db.transaction() as tx:
        return _public(tx, teams.visible(tx, who, name), who, now)


@router.post("", status_code=201, operation_id="createTeam", responses=problems.responses(403, 409))
def create(
    body: schemas.TeamCreate, who: Admin, db: DB, now: Now, client: Client
) -> schemas.TeamPublic:
    """Make a team, optionally from a provider's group (`provider:name`, or `name` when one
    provider has it): the group's members are then the team's people too."""
    with db.transaction() as tx:
        team = teams.create(tx, who, body.name, body.group, client)
        return _public(tx, team, who, now)


@router.delete(
    "/{name}",
    status_code=204,
    operation_id="deleteTeam",
    responses=problems.responses(403, 404, 409),
)
def delete(name: str, who: Admin, db: DB, client: Client) -> Response:
    """Remove a team that never booked (one that did stays, for its reservations' accounting)."""
    with db.transaction() as tx:
        teams.delete(tx, who, name, client)
    return Response(status_code=204)


@router.put(
    "/{name}/members/{username}",
    status_code=204,
    operation_id="setTeamMember",
    responses=problems.responses(403, 404),
)
def set_member(
    name: str, username: str, body: schemas.TeamMemberSet, who: Admin, db: DB, client: Client
) -> Response:
    """Add a person to a team, or make them its lead (or not)."""
    with db.transaction() as tx:
        teams.set_member(tx, who, name, username, body.lead, client)
    return Response(status_code=204)


@router.delete(
    "/{name}/members/{username}",
    status_code=204,
    operation_id="removeTeamMember",
    responses=problems.responses(403, 404),
)
def remove_member(name: str, username: str, who: Admin, db: DB, client: Client) -> Response:
    with db.transaction() as tx:
        teams.remove_member(tx, who, name, username, client)
    return Response(status_code=204)


@router.put(
    "/{name}/budgets/{pool}/{gpu_kind}",
    status_code=204,
    operation_id="setTeamBudget",
    responses=problems.responses(403, 404),
)
def set_budget(
    name: str,
    pool: str,
    gpu_kind: str,
    body: schemas.TeamBudgetSet,
    who: Admin,
    db: DB,
    client: Client,
) -> Response:
    """Cap what the team holds in a pool of a GPU kind: units at once, GPU-hours a UTC week and
    month (a MIG slice counts as its fraction of a GPU); null: no cap."""
    with db.transaction() as tx:
        budget = Budget(gpu_kind, body.max_units, body.gpu_hours_week, body.gpu_hours_month)
        teams.set_budget(tx, who, name, pools.get(tx, pool), gpu_kind, budget, client)
    return Response(status_code=204)


@router.delete(
    "/{name}/budgets/{pool}/{gpu_kind}",
    status_code=204,
    operation_id="removeTeamBudget",
    responses=problems.responses(403, 404),
)
def remove_budget(
    name: str, pool: str, gpu_kind: str, who: Admin, db: DB, client: Client
) -> Response:
    with db.transaction() as tx:
        teams.remove_budget(tx, who, name, pool, gpu_kind, client)
    return Response(status_code=204)
