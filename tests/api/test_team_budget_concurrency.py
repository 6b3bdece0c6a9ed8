"""Many people of one team booking and extending at once never take the team past its budget.

Randomized rounds through a real HTTP server: each round makes a team of eight people with a
random budget (units at once and GPU-hours a week) in the roomy pool `wide`, where capacity
never runs out, fires bookings and extensions from 24 threads at once, and then checks the
budget on what the database holds with the domain's own arithmetic: at no instant more units
than the cap, in no week more GPU-hours. Both budgets must have refused something: a crowd of
each round's bookings asks for one instant two weeks on (more units than any cap, fewer GPU-hours
than any week's cap even when extended), the rest spread over six days (several times any week's
cap); which requests win is the threads' race.
"""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from berth.config import load_pool_file
from berth.domain.capacity import Booking, peak_usage
from berth.domain.teams import Budget, Held, gpu_hours, periods
from berth.store import pools, teams, users
from berth.store.db import Database
from berth.store.models import Reservation
from berth.store.users import Principal

FAULT_POOLS = Path(__file__).parents[1] / "kube" / "faults_pools.yaml"
KIND = "mig-1g.24gb"
ROUNDS = 4
PEOPLE = 8
CROWD = 12  # one-hour bookings at one instant: at least 12 units asked, no cap above 5


def _login(server: str, name: str) -> str:
    with httpx.Client(base_url=server) as c:
        r = c.post(
            "/api/v1/auth/login", json={"username": name, "password": f"pw-{name}-long-enough"}
        )
        return str(r.json()["token"])


def test_concurrent_bookings_of_a_team_never_exceed_its_budget(server: str, db: Database) -> None:
    with db.transaction() as tx:
        pools.sync(tx, load_pool_file(FAULT_POOLS))
        wide = pools.get(tx, "wide")
    fraction = wide.gpu_fractions()[KIND]
    admin = Principal(0, "test", "admin")
    base = (datetime.now(UTC) + timedelta(days=2)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    rng = random.Random(17)
    refusals: set[str] = set()
    for round_ in range(ROUNDS):
        team = f"team{round_}"
        names = [f"r{round_}u{i}" for i in range(PEOPLE)]
        cap_units = rng.randrange(2, 6)
        cap_week = float(rng.randrange(4, 16))
        with db.transaction() as tx:
            for name in names:
                users.create(tx, name, f"pw-{name}-long-enough", "user", actor="test")
            teams.create(tx, admin, team, None)
            for name in names:
                teams.set_member(tx, admin, team, name, False)
            teams.set_budget(tx, admin, team, wide, KIND, Budget(KIND, cap_units, cap_week, None))
        tokens = {name: _login(server, name) for name in names}
        start0 = base + timedelta(days=7 * round_)

        def act(item: tuple[str, dict[str, Any]]) -> httpx.Response:
            token, payload = item
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=server, timeout=60) as c:
                r = c.post("/api/v1/reservations", json=payload, headers=headers)
                if r.status_code == 201 and rng.random() < 0.3:  # extend some at once
                    end = datetime.fromisoformat(r.json()["end"]) + timedelta(hours=2)
                    c.post(
                        f"/api/v1/reservations/{r.json()['id']}/extend",
                        json={"end": end.isoformat()},
                        headers=headers,
                    )
                return r

        requests = []
        for i in range(64):
            if i < CROWD:  # one instant in a week of its own: only the units budget can refuse
                start, hours = start0 + timedelta(days=14), 1
            else:
                start = start0 + timedelta(minutes=15 * rng.randrange(0, 4 * 24 * 6))
                hours = rng.randrange(1, 9)
            requests.append(
                (
                    tokens[names[i % PEOPLE]],
                    {
                        "pool": "wide",
                        "start": start.isoformat(),
                        "end": (start + timedelta(hours=hours)).isoformat(),
                        "gpu": {"kind": KIND, "count": rng.randrange(1, 3)},
                    },
                )
            )
        with ThreadPoolExecutor(max_workers=24) as ex:
            responses = list(ex.map(act, requests))
        assert {r.status_code for r in responses} <= {201, 409}
        assert any(r.status_code == 201 for r in responses)
        refusals |= {r.json()["budget"]["budget"] for r in responses if "budget" in r.json()}
        crowd = [r.json()["budget"]["budget"] for r in responses[:CROWD] if r.status_code == 409]
        assert set(crowd) == {"units"}, crowd  # refused, and only by the units budget

        with db.transaction() as tx:
            team_id = teams.get(tx, team).id
            rows = tx.execute(
                select(Reservation.start_at, Reservation.end_at, Reservation.gpu_count).where(
                    Reservation.team_id == team_id
                )
            ).all()
        held = [Held(s, e, n) for s, e, n in rows]
        lo, hi = min(h.start for h in held), max(h.end for h in held)
        ((peak, _),) = peak_usage(
            [Booking(h.start, h.end, {KIND: h.count}) for h in held], lo, hi
        ).values()
        assert peak <= cap_units, (team, peak, cap_units)
        for p0, p1 in periods("week", lo, hi):
            assert gpu_hours(held, fraction, p0, p1) <= cap_week + 1e-9, (team, p0)
    assert refusals == {"units", "week"}, refusals
