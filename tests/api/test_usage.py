"""The cost ledger through the API: GET /usage and /usage.csv on inserted reservations and
activity samples, who sees what, refusals, and the measured basis of the tokenomics page."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from berth.store import teams
from berth.store.db import Database
from berth.store.models import Reservation, User
from berth.store.users import Principal
from tests.api.conftest import Headers
from tests.api.test_reservations import iso
from tests.usage_rows import add_reservation, add_samples, every

H = timedelta(hours=1)
MINUTE = timedelta(minutes=1)


@pytest.fixture
def ledger(db: Database, now: datetime, user_headers: Callable[..., Headers]) -> dict[str, Headers]:
    """now is 7 January 09:00 UTC. alice: a whole GPU 10-8 h ago (23:00-01:00), busy at 50 % in its first hour, unmeasured after; two MIG
    slices across midnight (21:00-03:00), idle; a release after 1 h of a 4 h booking; a
    canceled one. bob: a whole GPU from 5 h ago to 5 h ahead serving tokens, busy at 100 %."""
    heads = {"alice": user_headers("alice"), "bob": user_headers("bob")}
    heads["root"] = user_headers("root", "admin")
    busy = add_reservation(db, "alice", now - 10 * H, now - 8 * H)
    add_samples(db, busy, every(now - 10 * H, now - 9 * H, MINUTE), 60, 0.5)
    night = add_reservation(db, "alice", now - 12 * H, now - 6 * H, kind="mig-1g.24gb", count=2)
    add_samples(db, night, every(now - 12 * H, now - 6 * H, 5 * MINUTE), 300, 0.0)
    add_reservation(db, "alice", now - 4 * H, now - 3 * H, reason="released")  # end moved
    add_reservation(db, "alice", now - 7 * H, now - 5 * H, status="CANCELED")
    serving = add_reservation(db, "bob", now - 5 * H, now + 5 * H, status="ACTIVE")
    add_samples(db, serving, every(now - 5 * H, now, H), 3600, 1.0, 800_000, 200_000)
    return heads


def report(client: TestClient, who: Headers, **params: Any) -> dict[str, Any]:
    r = client.get("/api/v1/usage", params=params, headers=who)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def span(now: datetime) -> dict[str, str]:
    return {"from": iso(now - 24 * H), "to": iso(now + 24 * H)}


def test_a_user_sees_their_own_ledger_by_day(
    client: TestClient, ledger: dict[str, Headers], now: datetime
) -> None:
    r = report(client, ledger["alice"], group_by="user,day", **span(now))
    assert r["everyone"] is False
    assert r["end"].startswith("2030-01-07T09:00")  # stops at now
    days = {row["day"]: row for row in r["rows"]}
    assert {row["user"] for row in r["rows"]} == {"alice"}
    # 6 Jan: the MIG pair 21:00-24:00 = 2 x 0.25 x 3 h, the GPU 23:00-24:00; 7 Jan: the rest
    # of both and the released one's hour; the canceled one never counts
    assert days["2030-01-06"]["reserved_gpu_hours"] == pytest.approx(1.5 + 1)
    assert days["2030-01-07"]["reserved_gpu_hours"] == pytest.approx(1.5 + 1 + 1)
    total = r["total"]
    assert total["reserved_gpu_hours"] == pytest.approx(6.0)
    # measured: the MIG pair all 6 h (0.5 GPU) + the GPU's first hour; used: 0.5 h of the GPU
    assert total["measured_gpu_hours"] == pytest.approx(3.0 + 1.0)
    assert total["used_gpu_hours"] == pytest.approx(0.5)
    assert total["idle_share"] == pytest.approx(3.5 / 4.0)
    assert total["measured_share"] == pytest.approx(4.0 / 6.0)
    rate = next(x for x in r["rates"] if x["gpu_kind"] == "gpu")
    assert rate["source"] == "scenario c845a"
    assert total["cost"] == pytest.approx(
        6.0 * rate["held_per_gpu_hour"] + 0.5 * rate["load_per_gpu_hour"]
    )
    assert total["cost_per_mtok"] is None  # no tokens
    # the most idle session first: the MIG pair (3 idle GPU-hours)
    assert [s["gpu_kind"] for s in r["sessions"]][:1] == ["mig-1g.24gb"]
    assert r["session_count"] == 3


def test_an_admin_sees_everyone_and_tokens_give_dollars_per_mtok(
    client: TestClient, ledger: dict[str, Headers], now: datetime, db: Database
) -> None:
    r = report(client, ledger["root"], group_by="user", **span(now))
    assert r["everyone"] is True
    users = {row["user"]: row for row in r["rows"]}
    assert set(users) == {"alice", "bob"}
    bob = users["bob"]
    assert bob["reserved_gpu_hours"] == pytest.approx(5.0)  # up to now, not its end
    assert bob["used_gpu_hours"] == pytest.approx(5.0)
    assert bob["idle_share"] == 0
    assert bob["tokens_prompt"] == pytest.approx(4_000_000)
    assert bob["tokens_generated"] == pytest.approx(1_000_000)
    assert bob["cost_per_mtok"] == pytest.approx(bob["cost"] / 5.0)
    serving = next(s for s in r["sessions"] if s["user"] == "bob")
    assert serving["cost_per_mtok"] == pytest.approx(bob["cost_per_mtok"])
    # by team: bob's serving session was for team "serving"; alice's for none
    with db.transaction() as tx:
        admin = Principal(0, "test", "admin")
        teams.create(tx, admin, "serving", None)
        team_id = teams.get(tx, "serving").id
        tx.execute(
            update(Reservation)
            .where(
                Reservation.owner_id
                == select(User.id).where(User.username == "bob").scalar_subquery()
            )
            .values(team_id=team_id)
        )
    by_team = report(client, ledger["root"], group_by="team", **span(now))
    rows = {row["team"]: row["reserved_gpu_hours"] for row in by_team["rows"]}
    assert set(rows) == {"serving", "(no team)"}
    assert rows["serving"] == pytest.approx(bob["reserved_gpu_hours"])
    # bob sees only bob
    mine = report(client, ledger["bob"], group_by="user", **span(now))
    assert [row["user"] for row in mine["rows"]] == ["bob"]
    assert all(s["user"] == "bob" for s in mine["sessions"])


def test_csv_has_the_same_rows(
    client: TestClient, ledger: dict[str, Headers], now: datetime
) -> None:
    params = {"group_by": "user,gpu_kind", **span(now)}
    r = client.get("/api/v1/usage.csv", params=params, headers=ledger["root"])
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    assert 'filename="berth-usage-20300106-20300107-groups.csv"' in r.headers["content-disposition"]
    lines = list(csv.DictReader(io.StringIO(r.text)))
    json_rows = report(client, ledger["root"], **params)["rows"]
    assert [(x["user"], x["gpu_kind"]) for x in lines] == [
        (x["user"], x["gpu_kind"]) for x in json_rows
    ]
    for got, want in zip(lines, json_rows, strict=True):
        assert float(got["reserved_gpu_hours"]) == pytest.approx(want["reserved_gpu_hours"])
        assert float(got["cost_usd"]) == pytest.approx(want["cost"], abs=1e-6)
    sessions = client.get(
        "/api/v1/usage.csv", params={**params, "rows": "sessions"}, headers=ledger["alice"]
    )
    rows = list(csv.DictReader(io.StringIO(sessions.text)))
    assert len(rows) == 3
    assert {x["user"] for x in rows} == {"alice"}
    assert rows[0]["idle_share"] == "1"


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"from": "2030-01-07T00:00Z", "to": "2030-01-06T00:00Z"}, "to", "must be after from"),
        ({"from": "2029-01-01T00:00Z", "to": "2030-01-07T00:00Z"}, "to", "at most 366 days"),
        (
            {"from": "2030-01-06T00:00Z", "to": "2030-01-07T00:00Z", "group_by": "project"},
            "group_by",
            "unknown grouping 'project'",
        ),
        (
            {"from": "2030-01-06T00:00Z", "to": "2030-01-07T00:00Z", "tz": "Mars/Base"},
            "tz",
            "unknown time zone",
        ),
        (
            {"from": "2030-01-06T00:00Z", "to": "2030-01-07T00:00Z", "tz": "localtime"},
            "tz",
            "unknown time zone",
        ),
    ],
)
def test_bad_requests_are_422_naming_the_parameter(
    client: TestClient, alice: Headers, params: dict[str, str], field: str, message: str
) -> None:
    for path in ("/api/v1/usage", "/api/v1/usage.csv"):
        r = client.get(path, params=params, headers=alice)
        assert r.status_code == 422, r.text
        assert r.json()["errors"][0]["field"] == field
        assert message in r.json()["detail"]


def test_days_follow_the_time_zone(
    client: TestClient, ledger: dict[str, Headers], now: datetime
) -> None:
    # in Tokyo (UTC+9) the MIG pair's 21:00-03:00 UTC is 06:00-12:00 on 7 January: one day
    r = report(client, ledger["alice"], group_by="gpu_kind,day", tz="Asia/Tokyo", **span(now))
    mig = [row for row in r["rows"] if row["gpu_kind"] == "mig-1g.24gb"]
    assert [(row["day"], row["reserved_gpu_hours"]) for row in mig] == [("2030-01-07", 3.0)]


def test_tokenomics_utilization_booked_or_measured(
    client: TestClient, ledger: dict[str, Headers], now: datetime
) -> None:
    params = {"pool": "c845a", "from": iso(now - 12 * H), "to": iso(now)}
    booked = client.get("/api/v1/tokenomics/utilization", params=params, headers=ledger["alice"])
    assert booked.json()["basis"] == "booked"
    assert booked.json()["used_gpu_hours"] is None
    measured = client.get(
        "/api/v1/tokenomics/utilization",
        params={**params, "basis": "measured"},
        headers=ledger["alice"],
    ).json()
    # available 2 GPUs x 12 h; booked: alice 6 h + bob 5 h (everyone's, as for booked);
    # used: alice 0.5 + bob 5
    assert measured["available_gpu_hours"] == pytest.approx(24.0)
    assert measured["booked_gpu_hours"] == pytest.approx(booked.json()["booked_gpu_hours"])
    assert measured["used_gpu_hours"] == pytest.approx(5.5)
    assert measured["measured_gpu_hours"] == pytest.approx(4.0 + 5.0)
    assert measured["utilization"] == pytest.approx(5.5 / 24)
    assert measured["utilization"] < booked.json()["utilization"]
