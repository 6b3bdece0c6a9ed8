"""Teams and their budgets through the API (docs/teams.md): who may see and change a team,
which team a booking is for, and budgets refused with their figures, including extensions
and teams made from a provider's groups at sign-in."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from berth.domain.identity import Claimed, GroupRules
from berth.store import identity, teams
from berth.store.db import Database
from berth.store.models import Reservation, Team, User
from tests.api.conftest import Headers
from tests.api.test_reservations import body

API = "/api/v1"


def _team(client: TestClient, admin: Headers, name: str, *members: tuple[str, bool]) -> None:
    r = client.post(f"{API}/teams", json={"name": name}, headers=admin)
    assert r.status_code == 201, r.text
    for username, lead in members:
        r = client.put(f"{API}/teams/{name}/members/{username}", json={"lead": lead}, headers=admin)
        assert r.status_code == 204, r.text


def _budget(client: TestClient, admin: Headers, team: str, kind: str, **caps: Any) -> None:
    r = client.put(f"{API}/teams/{team}/budgets/c845a/{kind}", json=caps, headers=admin)
    assert r.status_code == 204, r.text


def test_members_see_their_team_and_others_do_not(
    client: TestClient, admin: Headers, user_headers: Callable[..., Headers]
) -> None:
    alice, bob = user_headers("alice"), user_headers("bob")
    _team(client, admin, "ml", ("alice", True))
    _budget(client, admin, "ml", "gpu", max_units=1, gpu_hours_week=40)
    got = client.get(f"{API}/teams/ml", headers=alice).json()
    assert got["lead"] is True
    assert got["members"] == [{"username": "alice", "lead": True, "added": True}]
    [b] = got["budgets"]
    assert (b["max_units"], b["gpu_hours_week"], b["week_left"]) == (1, 40.0, 40.0)
    assert len(b["daily"]) == 31  # January, day by day, for the chart
    assert [t["name"] for t in client.get(f"{API}/teams", headers=alice).json()] == ["ml"]
    assert client.get(f"{API}/teams", headers=bob).json() == []
    assert client.get(f"{API}/teams/ml", headers=bob).status_code == 404
    assert client.get(f"{API}/teams/nope", headers=bob).status_code == 404


def test_only_admins_change_teams(
    client: TestClient, admin: Headers, user_headers: Callable[..., Headers]
) -> None:
    alice = user_headers("alice")
    _team(client, admin, "ml", ("alice", True))
    attempts = [
        client.post(f"{API}/teams", json={"name": "mine"}, headers=alice),
        client.put(f"{API}/teams/ml/members/alice", json={"lead": True}, headers=alice),
        client.put(f"{API}/teams/ml/budgets/c845a/gpu", json={"max_units": 9}, headers=alice),
        client.delete(f"{API}/teams/ml/members/alice", headers=alice),
        client.delete(f"{API}/teams/ml", headers=alice),
    ]
    assert [r.status_code for r in attempts] == [403] * 5


def test_bad_team_input_is_refused_and_changes_nothing(
    client: TestClient, admin: Headers, db: Database
) -> None:
    _team(client, admin, "ml")
    cases = [
        (client.post(f"{API}/teams", json={"name": "ML Team"}, headers=admin), 422),
        (client.post(f"{API}/teams", json={"name": "ml"}, headers=admin), 409),
        (client.post(f"{API}/teams", json={"name": "x", "group": "nobody"}, headers=admin), 422),
        (client.put(f"{API}/teams/ml/budgets/c845a/h100", json={}, headers=admin), 422),
        (client.put(f"{API}/teams/ml/budgets/nopool/gpu", json={}, headers=admin), 404),
        (
            client.put(f"{API}/teams/ml/budgets/c845a/gpu", json={"max_units": -1}, headers=admin),
            422,
        ),
        (client.put(f"{API}/teams/ml/members/ghost", json={"lead": False}, headers=admin), 404),
        (client.delete(f"{API}/teams/ml/budgets/c845a/gpu", headers=admin), 404),
    ]
    assert [r.status_code for r, _ in cases] == [code for _, code in cases]
    with db.transaction() as tx:
        assert tx.scalars(select(Team.name)).all() == ["ml"]


def test_a_booking_is_for_the_users_team_or_the_one_they_choose(
    client: TestClient, admin: Headers, user_headers: Callable[..., Headers], now: datetime
) -> None:
    alice, bob = user_headers("alice"), user_headers("bob")
    _team(client, admin, "ml", ("alice", False))
    mine = client.post(f"{API}/reservations", json=body(now, 1, 2), headers=alice)
    assert mine.status_code == 201, mine.text
    ml = client.get(f"{API}/teams/ml", headers=alice).json()
    assert mine.json()["team_id"] is not None
    assert ml["name"] == "ml"
    # bob is in no team: no team, no budget
    assert (
        client.post(f"{API}/reservations", json=body(now, 1, 2), headers=bob).json()["team_id"]
        is None
    )
    # bob may not book for a team he is not in
    r = client.post(f"{API}/reservations", json=body(now, 2, 3, team="ml"), headers=bob)
    assert r.status_code == 422
    assert "not in a team named 'ml'" in r.json()["detail"]
    # alice in two teams must choose
    _team(client, admin, "vision", ("alice", False))
    r = client.post(f"{API}/reservations", json=body(now, 3, 4), headers=alice)
    assert r.status_code == 422
    assert "choose one of ml, vision" in r.json()["detail"]
    r = client.post(f"{API}/reservations", json=body(now, 3, 4, team="vision"), headers=alice)
    assert r.status_code == 201, r.text


def test_budgets_refuse_with_which_and_how_much_is_left(
    client: TestClient,
    admin: Headers,
    user_headers: Callable[..., Headers],
    now: datetime,
    db: Database,
) -> None:
    alice, bob = user_headers("alice"), user_headers("bob")
    _team(client, admin, "ml", ("alice", False), ("bob", False))
    # a quarter GPU per slice: 8 h of 2 slices = 4 GPU-hours
    _budget(client, admin, "ml", "mig-1g.24gb", max_units=2, gpu_hours_week=6)
    r = client.post(f"{API}/reservations", json=body(now, 1, 9, count=2), headers=alice)
    assert r.status_code == 201, r.text
    # units: the team holds 2 slices from 1 to 9; bob's third at 5 is over
    r = client.post(f"{API}/reservations", json=body(now, 5, 6), headers=bob)
    assert r.status_code == 409
    got = r.json()["budget"]
    assert (got["team"], got["budget"], got["limit"], got["used"], got["left"]) == (
        "ml", "units", 2, 2, 0,
    )  # fmt: skip
    # GPU-hours: 4 used of 6; 2 slices for 5 hours later is 2.5 more: over
    r = client.post(f"{API}/reservations", json=body(now, 10, 15, count=2), headers=bob)
    assert r.status_code == 409
    got = r.json()["budget"]
    assert (got["budget"], got["used"], got["asked"], got["left"]) == ("week", 4.0, 2.5, 2.0)
    assert "2 GPU-hours left" in r.json()["detail"]
    # exactly what is left fits
    r = client.post(f"{API}/reservations", json=body(now, 10, 14, count=2), headers=bob)
    assert r.status_code == 201, r.text
    # next week is a new week
    r = client.post(f"{API}/reservations", json=body(now, 7 * 24, 7 * 24 + 8), headers=bob)
    assert r.status_code == 201, r.text
    # an extension is a booking too: 1 slice for 56 h is 14 GPU-hours, over 6; 16 h is 4
    rid = r.json()["id"]
    later = now + timedelta(hours=7 * 24)
    r = client.post(
        f"{API}/reservations/{rid}/extend",
        json={"end": (later + timedelta(hours=56)).isoformat()},
        headers=bob,
    )
    assert r.status_code == 409
    assert r.json()["budget"]["budget"] == "week"
    r = client.post(
        f"{API}/reservations/{rid}/extend",
        json={"end": (later + timedelta(hours=16)).isoformat()},
        headers=bob,
    )
    assert r.status_code == 200, r.text
    # what was refused changed nothing: three bookings, the extension's end as accepted
    with db.transaction() as tx:
        rows = tx.scalars(select(Reservation)).all()
    assert len(rows) == 3
    assert max(r.end_at for r in rows) == later + timedelta(hours=16)
    ml = client.get(f"{API}/teams/ml", headers=alice).json()["budgets"][0]
    assert (ml["week_used"], ml["week_left"], ml["units_now"]) == (6.0, 0.0, 0)


def test_teams_from_groups_at_sign_in(db: Database, now: datetime) -> None:
    rules = GroupRules.parse("", "", "team-*")
    who = Claimed("oidc", "sub-1", "carol", "oidc:carol", ("team-ML Ops", "staff"))
    with db.transaction() as tx:
        assert identity.sign_in(tx, who, rules, now).user is not None
    with db.transaction() as tx:
        assert tx.scalars(select(Team.name)).all() == ["team-ml-ops"]
        carol = tx.scalar(select(User.id).where(User.username == "carol"))
        assert carol is not None
        [m] = teams.of_user(tx, carol)
        assert (m.name, m.lead) == ("team-ml-ops", False)
    # a second sign-in makes nothing new
    with db.transaction() as tx:
        identity.sign_in(tx, who, rules, now)
    with db.transaction() as tx:
        assert len(tx.scalars(select(Team.name)).all()) == 1
