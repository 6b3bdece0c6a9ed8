"""The reservation list (`GET /reservations`) as the API's JSON, written by PostgreSQL.

A user's list is up to a thousand rows, and the portal asks for it every 5-15 s. Reading two
dozen columns of each row into Python and shaping them into a dict was most of the request
(psycopg's reading of the rows a third of it, the shaping a fifth). Here PostgreSQL writes each
row's JSON, byte for byte what `schemas.ReservationPublic` writes (a test compares the two
over rows with every optional field and odd value), and Python only joins them.

The one field PostgreSQL cannot write is `staging`: for a live reservation that stages a
model it is worked out from the cache agents' reports (`store.cache.staging_of`). So each row
comes as the JSON before that field and the JSON after it, and, only where it stages a
model, the columns `staging_of` needs; the caller puts the field in between.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import literal_column, select

from berth.domain.quantity import BINARY_UNITS
from berth.domain.reservation import LIVE, Status
from berth.store.db import Tx
from berth.store.models import Reservation, SessionIdle, SessionRow, User
from berth.store.reservations import JSON_TIME
from berth.store.users import Principal


def _string(column: str) -> str:
    """A text column as a JSON string (PostgreSQL escapes as pydantic does), or null."""
    return f"coalesce(to_json({column})::text, 'null')"


def _time(column: str) -> str:
    """A timestamptz column as the API writes an instant, or null."""
    instant = JSON_TIME.replace("COLUMN", column)
    return f"""CASE WHEN {column} IS NULL THEN 'null' ELSE '"' || {instant} || '"' END"""


def _strings(array: str) -> str:
    """A JSON array of strings (or absent) as a compact JSON array."""
    return f"""(SELECT '[' || coalesce(string_agg(to_json(e.v)::text, ',' ORDER BY e.n), '')
        || ']' FROM jsonb_array_elements_text(coalesce({array}, '[]')) WITH ORDINALITY e (v, n))"""  # noqa: S608 (constants)


# cores as a float the way Python writes one: 16.0, 1.5, 0.25
_CPU = (
    "CASE WHEN r.cpu_millicores % 1000 = 0 THEN (r.cpu_millicores / 1000)::text || '.0' "
    "ELSE (r.cpu_millicores::float8 / 1000)::text END"
)
# domain.quantity.format_bytes: the largest binary unit that divides exactly, else bytes
_MEMORY = (
    "CASE "
    + " ".join(
        f"WHEN r.memory_bytes <> 0 AND r.memory_bytes % {factor} = 0 "
        f"THEN (r.memory_bytes / {factor})::text || '{suffix}'"
        for suffix, factor in BINARY_UNITS
    )
    + " ELSE r.memory_bytes::text END"
)
_STAGE = (
    """CASE WHEN r.stage IS NULL OR r.stage = '{}'::jsonb THEN '{"engines":[],"models":[]}' """
    f"""ELSE '{{"engines":' || {_strings("r.stage -> 'engines'")} """
    f"""|| ',"models":' || {_strings("r.stage -> 'models'")} || '}}' END"""
)
_PENDING = f"r.status = '{Status.PENDING.value}'"
_IDLE = (
    f"CASE WHEN r.status = '{Status.ACTIVE.value}' "
    "AND (session_idle.warned_at IS NOT NULL OR session_idle.keep_until IS NOT NULL) "
    f"""THEN '{{"reason":' || {_string("session_idle.reason")} """
    f"""|| ',"warned_at":' || {_time("session_idle.warned_at")} """
    f"""|| ',"release_at":' || {_time("session_idle.release_at")} """
    f"""|| ',"keep_until":' || {_time("session_idle.keep_until")} || '}}' ELSE 'null' END"""
)
# Each piece is never NULL: `||` with a NULL is NULL.
_BEFORE_STAGING = " || ".join(
    [
        """'{"id":"' || r.id::text || '","status":' || to_json(r.status)::text""",
        """',"owner":' || to_json(users.username)::text""",
        """',"pool":' || to_json(r.pool)::text""",
        f"""',"start":' || {_time("r.start_at")}""",
        f"""',"end":' || {_time("r.end_at")}""",
        """',"gpu":{"kind":' || to_json(r.gpu_kind)::text""",
        """',"count":' || r.gpu_count::text || '}'""",
        """',"mode":' || to_json(r.mode)::text""",
        f"""',"cpu":' || {_CPU}""",
        f"""',"memory":"' || {_MEMORY} || '"'""",
        f"""',"reason":' || {_string("r.reason")}""",
        """',"team_id":' || coalesce(r.team_id::text, 'null')""",
        f"""',"hold_kind":' || CASE WHEN {_PENDING} THEN {_string("r.hold_kind")} """
        "ELSE 'null' END",
        f"""',"hold_until":' || CASE WHEN {_PENDING} THEN {_time("r.hold_until")} """
        "ELSE 'null' END",
        f"""',"phase":' || {_string("sessions.phase")}""",
        """',"workspace_url":' || CASE WHEN sessions.phase = 'ready' """
        f"""THEN {_string("sessions.url")} ELSE 'null' END""",
        f"""',"stage":' || {_STAGE}""",
        """',"staging":'""",
    ]
)
_AFTER_STAGING = " || ".join(
    [
        f"""',"idle":' || {_IDLE}""",
        f"""',"created_at":' || {_time("r.created_at")}""",
        f"""',"updated_at":' || {_time("r.updated_at")} || '}}'""",
    ]
)
_LIVE = ", ".join(sorted(f"'{s.value}'" for s in LIVE))
# where a row stages a model, the columns staging needs (NULL elsewhere: cheap to read)
_STAGES = f"r.status IN ({_LIVE}) AND jsonb_array_length(coalesce(r.stage -> 'models', '[]')) > 0"


@dataclass
class Stages:
    """The columns of a listed reservation that stages a model which its staging is worked
    out from (`store.cache.staging_of`)."""

    id: uuid.UUID
    status: str
    pool: str
    start_at: datetime
    stage: dict[str, Any]


@dataclass(frozen=True)
class Listed:
    """One row of the list: its JSON before and after `"staging":`, and `stages` where it
    stages a model (None elsewhere: its staging is null)."""

    before: str
    after: str
    stages: Stages | None


def search(
    tx: Tx,
    who: Principal,
    *,
    mine: bool,
    statuses: Sequence[Status] = (),
    pool: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 200,
) -> list[Listed]:
    """Visible reservations (users see only their own), ordered by start, as JSON."""
    r = Reservation.__table__.alias("r")
    staged: list[Any] = [
        literal_column(f"CASE WHEN {_STAGES} THEN r.{c} END").label(c)
        for c in ("id", "status", "pool", "start_at", "stage")
    ]
    q = (
        select(
            literal_column(_BEFORE_STAGING).label("before"),
            literal_column(_AFTER_STAGING).label("after"),
            *staged,
        )
        .select_from(r)
        .join(User, User.id == r.c.owner_id)
        .outerjoin(SessionRow, SessionRow.reservation_id == r.c.id)
        .outerjoin(SessionIdle, SessionIdle.reservation_id == r.c.id)
    )
    if mine or not who.is_admin:
        q = q.where(r.c.owner_id == who.id)
    if statuses:
        q = q.where(r.c.status.in_([s.value for s in statuses]))
    if pool:
        q = q.where(r.c.pool == pool)
    if since:
        q = q.where(r.c.end_at > since)
    if until:
        q = q.where(r.c.start_at < until)
    q = q.order_by(r.c.start_at, r.c.id).limit(limit)
    return [
        Listed(before, after, Stages(*stages) if stages[0] is not None else None)
        for before, after, *stages in tx.execute(q).all()
    ]
