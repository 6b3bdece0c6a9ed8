"""Schema fuzzing of the whole HTTP API from its own OpenAPI document (schemathesis).

The live app (uvicorn on 127.0.0.1, the test database) is called as a plain user and as an
admin with a bearer API token. Every response must be no server error, have a documented status
code, content type and headers, and match its documented schema; data that breaks the schema
must be refused with a 4xx. Bounded: a fixed number of examples per operation and a deadline
per example, about a minute per role on 2 cores.

The endpoints that end a credential (`logout`, `revokeToken`) are called with a throwaway token
of the same user made for that one case, so the run's own token stays valid throughout.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

from berth.api.app import create_app
from berth.config import Settings
from berth.store import users
from berth.store.db import Database

MAX_EXAMPLES = 25
DEADLINE = timedelta(seconds=10)  # per example; a request takes milliseconds
ENDS_ITS_TOKEN = {"logout", "revokeToken"}

# Business rules the schema cannot state (a start on the booking grid, a username's letters, a
# window's length) are refused with 422 even for data the schema allows: documented per route.
ACCEPTED_FOR_VALID_DATA = ["2xx", "401", "403", "404", "409", "422", "429"]

CONFIG = SchemathesisConfig.from_dict(
    {
        "generation": {"max-examples": MAX_EXAMPLES, "database": "none"},
        "checks": {"positive_data_acceptance": {"expected-statuses": ACCEPTED_FOR_VALID_DATA}},
    }
)


SENT: Counter[tuple[str, str]] = Counter()  # (role, operation) -> requests, for the summary


@pytest.fixture(scope="module", autouse=True)
def summary() -> Iterator[None]:
    """Print how much was sent and how long it took (shown with -s)."""
    started = time.monotonic()
    yield
    for role in ("user", "admin"):
        ops = {op: n for (r, op), n in SENT.items() if r == role}
        print(f"\nfuzzed as {role}: {sum(ops.values())} requests over {len(ops)} operations")
    print(f"fuzzing took {time.monotonic() - started:.0f} s")


@dataclass
class Caller:
    server: str
    role: str
    token: str
    password: str

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def throwaway(self) -> dict[str, str]:
        """A new API token of the caller, made from a new sign-in (not from `token`): a fuzzed
        `DELETE /auth/tokens/{id}` may revoke any token of the caller, `token` included."""
        with httpx.Client(base_url=self.server, timeout=30) as c:
            login = c.post(
                "/api/v1/auth/login",
                json={"username": f"fuzz-{self.role}", "password": self.password},
            )
            assert login.status_code == 200, login.text
            session = {"Authorization": f"Bearer {login.json()['token']}"}
            r = c.post("/api/v1/auth/tokens", json={"name": "throwaway"}, headers=session)
            assert r.status_code == 201, r.text
            return {"Authorization": f"Bearer {r.json()['token']}"}


@pytest.fixture(params=["user", "admin"])
def caller(request: pytest.FixtureRequest, server: str, db: Database) -> Caller:
    role: str = request.param
    name = f"fuzz-{role}"
    with db.transaction() as tx:
        users.create(tx, name, f"pw-{name}-long", role, actor="test")
    with httpx.Client(base_url=server, timeout=30) as c:
        login = c.post("/api/v1/auth/login", json={"username": name, "password": f"pw-{name}-long"})
        assert login.status_code == 200, login.text
        session = {"Authorization": f"Bearer {login.json()['token']}"}
        r = c.post("/api/v1/auth/tokens", json={"name": "fuzz"}, headers=session)
        assert r.status_code == 201, r.text
    return Caller(server, role, r.json()["token"], f"pw-{name}-long")


def _document() -> dict[str, Any]:
    """The app's OpenAPI document; building the app connects to nothing."""
    return create_app(Settings(), Database("postgresql+psycopg:///unused")).openapi()


DOCUMENT = _document()
schema = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG)


def test_the_document_under_test_is_the_one_served(server: str) -> None:
    assert httpx.get(f"{server}/api/v1/openapi.json").json() == DOCUMENT


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=DEADLINE,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_every_operation_conforms_to_its_schema(case: schemathesis.Case, caller: Caller) -> None:
    op = case.operation.definition.raw.get("operationId", case.operation.label)
    headers = caller.throwaway() if op in ENDS_ITS_TOKEN else caller.headers()
    SENT[caller.role, op] += 1
    case.call_and_validate(base_url=caller.server, headers=headers, timeout=30)
