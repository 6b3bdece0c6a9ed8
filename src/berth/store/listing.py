"""The reservation list (`GET /reservations`) as the API's JSON, written by PostgreSQL.

A user's list is up to a thousand rows, and the portal asks for it every 5-15 s. Reading two
dozen columns of each row into Python and shaping them into a dict was most of the request
(psycopg's reading of the rows a third of it, the shaping a fifth). Here PostgreSQL writes the
whole array, each row byte for byte what `schemas.ReservationPublic` writes (a test compares
the two over rows with every optional field and odd value), in one value: Python does nothing
per row.

The one field PostgreSQL cannot write is `staging`: for a live reservation that stages a
model it is worked out from the cache agents' reports (`store.cache.staging_of`). Such a row
has a marker with its id in that field's place, and the same query returns the columns
`staging_of` needs for those rows; the caller writes each marked row's staging in
(`Listing.with_staging`). Most lists have none.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, literal_column, select
from sqlalchemy.dialects.postgresql import aggregate_order_by

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
# a row whose staging is worked out in Python: live, and staging a model
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
class Listing:
    """The list as one JSON array, but for the staging of the rows in `stages`: where each of
    those has its staging, `body` has `MARK + id + MARK` instead (see `with_staging`)."""

    body: str
    stages: list[Stages]

    def with_staging(self, json_of: Callable[[uuid.UUID], str]) -> str:
        """The JSON array, each marked row's staging written by `json_of(its id)`."""
        if not self.stages:
            return self.body
        return _MARKED.sub(lambda m: json_of(uuid.UUID(m[1])), self.body)


# A character PostgreSQL's JSON never holds raw (it writes controls as \u0001), so a marker
# cannot meet anything in the rows' own text.
MARK = "\x01"
_MARK_SQL = "chr(1)"
_MARKED = re.compile(f"{MARK}([0-9a-f-]{{36}}){MARK}")


_R = Reservation.__table__.alias("r")  # made once: an alias makes a proxy of every column


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
) -> Listing:
    """Visible reservations (users see only their own), ordered by start, as the JSON array
    PostgreSQL writes (see `Listing`)."""
    r = _R
    q = (
        select(
            literal_column(
                f"{_BEFORE_STAGING} || CASE WHEN {_STAGES} "
                f"THEN {_MARK_SQL} || r.id::text || {_MARK_SQL} ELSE 'null' END || {_AFTER_STAGING}"
            ).label("json"),
            literal_column(_STAGES).label("stages"),
            *(r.c[c] for c in ("start_at", "id", "status", "pool", "stage")),
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
    rows = q.order_by(r.c.start_at, r.c.id).limit(limit).subquery()
    # one row: the array, and the few columns staging needs of the rows that stage a model
    staged = [
        func.array_agg(rows.c[c]).filter(rows.c.stages)
        for c in ("id", "status", "pool", "start_at", "stage")
    ]
    order = (rows.c.start_at, rows.c.id)
    body = func.string_agg(rows.c.json, aggregate_order_by(literal_column("','"), *order))
    found = tx.execute(select(func.coalesce("[" + body + "]", "[]"), *staged)).one()
    columns = [c or [] for c in found[1:]]  # NULL where no row stages a model
    return Listing(found[0], [Stages(*c) for c in zip(*columns, strict=True)])
