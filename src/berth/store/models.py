"""Tables. Every query of the booking path is pool-first, and its indexes say so."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Double,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, TSTZRANGE, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# statuses that hold capacity (the booking path counts them): domain.reservation.HOLDING
HOLDING_STATUSES_SQL = "status IN ('PENDING', 'APPROVED', 'ACTIVE')"
SHOWN_STATUSES_SQL = "status IN ('PENDING', 'APPROVED', 'ACTIVE', 'COMPLETED')"  # on the calendar


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    # NULL for a user of an identity provider: they have no password here
    password_hash: Mapped[str | None] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(16))
    disabled: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # where the account comes from (berth.domain.identity): local, oidc or openshift; for the
    # last two the provider's stable subject and the name the cluster knows them by
    provider: Mapped[str] = mapped_column(String(16), server_default=text("'local'"))
    subject: Mapped[str | None] = mapped_column(String(255))
    cluster_name: Mapped[str | None] = mapped_column(String(255))
    signed_in_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("role IN ('admin', 'user')", name="users_role"),
        CheckConstraint("provider IN ('local', 'oidc', 'openshift')", name="users_provider"),
        CheckConstraint(
            "(provider = 'local') = (subject IS NULL)", name="users_subject_of_provider"
        ),
        Index("users_provider_subject", "provider", "subject", unique=True),
    )


class Group(Base):
    """A group an identity provider says people are in (teams are made from these)."""

    __tablename__ = "groups"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (Index("groups_provider_name", "provider", "name", unique=True),)


class GroupMember(Base):
    """Who is in a group, as of their last sign-in (replaced at each one)."""

    __tablename__ = "group_members"

    group_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    since: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Team(Base):
    """A team (docs/teams.md): made by an admin, optionally from a provider's group, whose
    members are then its people too (view `team_people`)."""

    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    group_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("groups.id", ondelete="SET NULL"), unique=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (CheckConstraint("name ~ '^[a-z0-9][a-z0-9._-]{0,63}$'", name="teams_name"),)


class TeamMember(Base):
    """A person an admin added to a team, or made its lead (a group's members need no row)."""

    __tablename__ = "team_members"

    team_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    lead: Mapped[bool] = mapped_column(Boolean, server_default=text("false"))


# The view of migration 0017: everyone in a team (its group's members and its team_members
# rows), one row per (team, user), `lead` when any row says so. Read-only.
TEAM_PEOPLE = Table(
    "team_people",
    MetaData(),
    Column("team_id", BigInteger),
    Column("user_id", BigInteger),
    Column("lead", Boolean),
)


class TeamBudget(Base):
    """What a team may hold in one pool of one GPU kind: concurrent units, GPU-hours per UTC
    calendar week and month (a MIG slice counts as its fraction of a GPU). None: no cap."""

    __tablename__ = "team_budgets"

    team_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True
    )
    pool: Mapped[str] = mapped_column(
        String(64), ForeignKey("pools.name", ondelete="CASCADE"), primary_key=True
    )
    gpu_kind: Mapped[str] = mapped_column(String(64), primary_key=True)
    max_units: Mapped[int | None] = mapped_column(Integer)
    gpu_hours_week: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    gpu_hours_month: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))

    __table_args__ = (
        CheckConstraint("max_units IS NULL OR max_units >= 0", name="team_budgets_units"),
        CheckConstraint(
            "(gpu_hours_week IS NULL OR gpu_hours_week >= 0) AND "
            "(gpu_hours_month IS NULL OR gpu_hours_month >= 0)",
            name="team_budgets_hours",
        ),
    )


class SignInAttempt(Base):
    """A sign-in at an identity provider in flight: the browser holds the state (a cookie), the
    server the nonce and the PKCE verifier, which never leave it. One use, ten minutes."""

    __tablename__ = "sign_in_attempts"

    state_hash: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))
    nonce: Mapped[str] = mapped_column(String(128))
    code_verifier: Mapped[str] = mapped_column(String(128))
    next_path: Mapped[str] = mapped_column(String(512))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class ApiToken(Base):
    """A bearer credential: a login session (kind 'session') or a named API token."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(128))
    token_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (CheckConstraint("kind IN ('session', 'api')", name="api_tokens_kind"),)


class CalendarFeed(Base):
    """A user's private iCalendar feed: one per user, its 256-bit secret kept as SHA-256 like an
    API token's. Re-creating replaces the hash (the old URL stops working); revoking deletes it."""

    __tablename__ = "calendar_feeds"

    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    token_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PoolRow(Base):
    __tablename__ = "pools"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSONB)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # the Kubernetes cluster the pool's nodes are in; its reconciler reads only these pools
    cluster: Mapped[str] = mapped_column(String(64), server_default="default")


class CatalogRow(Base):
    """The runtime catalog (engines and models), synced from the catalog file; one row."""

    __tablename__ = "catalog"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSONB)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Reservation(Base):
    __tablename__ = "reservations"

    id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), primary_key=True)
    pool: Mapped[str] = mapped_column(ForeignKey("pools.name"))
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    start_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    end_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    gpu_kind: Mapped[str] = mapped_column(String(64))
    gpu_count: Mapped[int] = mapped_column(Integer)
    mode: Mapped[str] = mapped_column(String(16))
    cpu_millicores: Mapped[int] = mapped_column(BigInteger)
    memory_bytes: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    # what the reservation will use, staged on its pool's nodes before it opens:
    # {"engines": [...], "models": [...]} (domain.catalog.Stage); {} when nothing
    stage: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # the team it was booked for (docs/teams.md); None: no team
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="RESTRICT"))
    # a PENDING reservation holds its capacity until `hold_until`, for `hold_kind`:
    # "approval" (a lead or an admin decides) or "offer" (a waitlist offer to its user)
    hold_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    hold_kind: Mapped[str | None] = mapped_column(String(16))

    __table_args__ = (
        CheckConstraint("end_at > start_at", name="reservations_window"),
        CheckConstraint("gpu_count > 0", name="reservations_gpu_count"),
        CheckConstraint(
            "status IN ('PENDING', 'APPROVED', 'ACTIVE', 'COMPLETED', 'CANCELED', 'FAILED', "
            "'REJECTED', 'EXPIRED')",
            name="reservations_status",
        ),
        CheckConstraint("hold_kind IN ('approval', 'offer')", name="reservations_hold_kind"),
        CheckConstraint(
            "status <> 'PENDING' OR (hold_until IS NOT NULL AND hold_kind IS NOT NULL)",
            name="reservations_pending_held",
        ),
        CheckConstraint("mode IN ('interactive', 'inference')", name="reservations_mode"),
        # The booking path asks "live reservations of this pool overlapping this window".
        Index(
            "reservations_live_overlap",
            "pool",
            text("tstzrange(start_at, end_at, '[)')"),
            postgresql_using="gist",
            postgresql_where=text(HOLDING_STATUSES_SQL),
        ),
        Index("reservations_owner_start", "owner_id", "start_at"),
        # The calendar asks "what of this pool (or of every pool) is shown in this window":
        # live and completed reservations overlapping it.
        Index(
            "reservations_shown_overlap",
            "pool",
            text("tstzrange(start_at, end_at, '[)')"),
            postgresql_using="gist",
            postgresql_where=text(SHOWN_STATUSES_SQL),
        ),
        # The per-user limit asks "live reservations of this user overlapping this window".
        Index(
            "reservations_live_owner_overlap",
            "owner_id",
            text("tstzrange(start_at, end_at, '[)')"),
            postgresql_using="gist",
            postgresql_where=text(HOLDING_STATUSES_SQL),
        ),
        # The reconciler asks "which approved ones have started" and "which active ones ended".
        Index(
            "reservations_approved_start",
            "start_at",
            postgresql_where=text("status = 'APPROVED'"),
        ),
        Index("reservations_active_end", "end_at", postgresql_where=text("status = 'ACTIVE'")),
        Index("reservations_pool_start", "pool", "start_at"),
        Index("reservations_team_pool_start", "team_id", "pool", "start_at"),
        Index(
            "reservations_pending_hold",
            "hold_until",
            postgresql_where=text("status = 'PENDING'"),
        ),
    )


class WaitlistEntry(Base):
    """A request that did not fit, waiting for capacity (docs/teams.md, "Fair waitlist"): the
    request as validated, the team it is for, its state (domain/waitlist.py) and its current
    offer (a PENDING reservation with hold_kind "offer"), once it has one."""

    __tablename__ = "waitlist_entries"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("users.id", ondelete="CASCADE"))
    team_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("teams.id", ondelete="SET NULL")
    )
    pool: Mapped[str] = mapped_column(String(64), ForeignKey("pools.name", ondelete="CASCADE"))
    start_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    end_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    gpu_kind: Mapped[str] = mapped_column(String(64))
    gpu_count: Mapped[int] = mapped_column(Integer)
    mode: Mapped[str] = mapped_column(String(16))
    cpu_millicores: Mapped[int] = mapped_column(BigInteger)
    memory_bytes: Mapped[int] = mapped_column(BigInteger)
    stage: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    state: Mapped[str] = mapped_column(String(16), server_default="WAITING")
    reservation_id: Mapped[uuid.UUID | None] = mapped_column(
        UUID(as_uuid=True), ForeignKey("reservations.id", ondelete="SET NULL"), unique=True
    )
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    __table_args__ = (
        CheckConstraint(
            "state IN ('WAITING', 'OFFERED', 'ACCEPTED', 'DECLINED', 'LAPSED', 'WITHDRAWN', "
            "'GONE')",
            name="waitlist_entries_state",
        ),
        CheckConstraint("end_at > start_at", name="waitlist_entries_window"),
        CheckConstraint("gpu_count > 0", name="waitlist_entries_gpu_count"),
        CheckConstraint("mode IN ('interactive', 'inference')", name="waitlist_entries_mode"),
        CheckConstraint(
            "state <> 'WAITING' OR reservation_id IS NULL", name="waitlist_entries_waiting"
        ),
        CheckConstraint(
            "state <> 'OFFERED' OR reservation_id IS NOT NULL", name="waitlist_entries_offered"
        ),
        # one open entry per user per identical request
        Index(
            "waitlist_entries_one_open",
            "user_id",
            text("coalesce(team_id, 0)"),
            "pool",
            "start_at",
            "end_at",
            "gpu_kind",
            "gpu_count",
            "mode",
            "cpu_millicores",
            "memory_bytes",
            unique=True,
            postgresql_where=text("state IN ('WAITING', 'OFFERED')"),
        ),
        # the sweep asks "the WAITING entries of this pool"
        Index(
            "waitlist_entries_waiting",
            "pool",
            "created_at",
            "id",
            postgresql_where=text("state = 'WAITING'"),
        ),
        Index("waitlist_entries_user", "user_id", "created_at"),
    )


class AuditEntry(Base):
    """Append-only: who did what to which thing, from where, when. Pruned by age only."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))
    client: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        # sign-in throttling asks "failed sign-ins from this address (for this name) lately"
        Index(
            "audit_login_failed_client_at",
            "client",
            "at",
            postgresql_where=text("action = 'auth.login_failed'"),
        ),
    )


class SessionRow(Base):
    """The runtime side of a reservation: its namespace and how far provisioning has come.

    Written only by the reconciler. `phase`: provisioning -> ready -> tearing_down -> gone, or
    failed (then torn down like the rest). Transient cluster errors set `next_attempt_at`
    without counting an attempt; other errors count, and past the limit the reservation FAILS.
    """

    __tablename__ = "sessions"

    reservation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("reservations.id", ondelete="CASCADE"), primary_key=True
    )
    namespace: Mapped[str] = mapped_column(String(63), unique=True)
    phase: Mapped[str] = mapped_column(String(16))
    step: Mapped[str | None] = mapped_column(String(32))
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # since when the (otherwise healthy) cluster has answered this session's requests with 5xx
    failing_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    # the workspace password, Fernet-sealed (store.crypto); NULL once the session has ended
    password_sealed: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ready_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(
            "phase IN ('provisioning', 'ready', 'tearing_down', 'gone', 'failed')",
            name="sessions_phase",
        ),
        Index("sessions_open", "phase", postgresql_where=text("phase <> 'gone'")),
    )


class SessionActivity(Base):
    """Measured use of a session in one sample interval (see migration 0012).

    `gpu_active` is the mean DCGM_FI_PROF_GR_ENGINE_ACTIVE over the session's GPUs, 0..1, or
    NULL when nothing was measured; token columns are the engines' counter increases.
    """

    __tablename__ = "session_activity"

    reservation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("reservations.id", ondelete="CASCADE"), primary_key=True
    )
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    seconds: Mapped[int] = mapped_column(Integer)
    gpu_active: Mapped[float | None] = mapped_column(Double)
    tokens_prompt: Mapped[int | None] = mapped_column(BigInteger)
    tokens_generated: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (
        CheckConstraint("seconds > 0", name="session_activity_seconds"),
        CheckConstraint(
            "gpu_active IS NULL OR (gpu_active >= 0 AND gpu_active <= 1)",
            name="session_activity_gpu_active",
        ),
        CheckConstraint(
            "coalesce(tokens_prompt, 0) >= 0 AND coalesce(tokens_generated, 0) >= 0",
            name="session_activity_tokens",
        ),
        Index("session_activity_at", "at"),
    )


class SessionIdle(Base):
    """Idle-reclaim state of a reservation (see migration 0014 and domain/idle.py).

    `opened_at`: the owner first opened the workspace through the portal (written by the API);
    `warned_at`/`reason`/`release_at`: the standing warning (written by the reconciler);
    `keep_until`: the owner's last "keep" (written by the API).
    """

    __tablename__ = "session_idle"

    reservation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("reservations.id", ondelete="CASCADE"), primary_key=True
    )
    opened_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    warned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str | None] = mapped_column(String(16))
    release_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    keep_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(
            "reason IS NULL OR reason IN ('idle', 'no-show')", name="session_idle_reason"
        ),
        CheckConstraint(
            "(warned_at IS NULL) = (reason IS NULL) AND (warned_at IS NULL) = (release_at IS NULL)",
            name="session_idle_warning",
        ),
    )


class Notification(Base):
    """A message to a user, recorded in the transaction of what it tells (see
    docs/notifications.md); the portal's bell shows every one, `deliveries` send it further.
    `dedupe` makes a reminder once per reservation and lead time, whoever sweeps."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    reservation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("reservations.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    actions: Mapped[list[str]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    dedupe: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(
            "kind IN ('ready', 'failed', 'ending', 'idle', 'released', 'request', 'offer')",
            name="notifications_kind",
        ),
        Index("notifications_user_id", "user_id", "id"),
        Index(
            "notifications_once",
            "reservation_id",
            "dedupe",
            unique=True,
            postgresql_where=text("dedupe IS NOT NULL"),
        ),
    )


class NotificationDelivery(Base):
    """One notification on one channel: pending until sent, or failed after the last attempt.
    `errors` keeps every failed attempt ({"at", "error"}), `last_error` the latest."""

    __tablename__ = "notification_deliveries"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), server_default=text("'pending'"))
    attempts: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(Text)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, server_default=text("'[]'::jsonb"))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint("channel IN ('email', 'webhook')", name="notification_deliveries_channel"),
        CheckConstraint(
            "state IN ('pending', 'sent', 'failed')", name="notification_deliveries_state"
        ),
        Index("notification_deliveries_one", "notification_id", "channel", unique=True),
        # the delivery loop asks "which pending ones are due"
        Index(
            "notification_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("state = 'pending'"),
        ),
    )


class NotificationPreferences(Base):
    """A user's channels per kind ({"ready": ["email"], ...}), addresses and reminder leads.
    No row: the portal only, reminders 30 and 5 minutes before the end."""

    __tablename__ = "notification_preferences"

    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    email: Mapped[str | None] = mapped_column(Text)
    webhook_url: Mapped[str | None] = mapped_column(Text)
    channels: Mapped[dict[str, list[str]]] = mapped_column(
        JSONB, server_default=text("'{}'::jsonb")
    )
    lead_minutes: Mapped[list[int]] = mapped_column(JSONB, server_default=text("'[30, 5]'::jsonb"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Heartbeat(Base):
    """What a background component last reported: the reconciler writes one every cycle, so the
    API (which never talks to Kubernetes) can say whether the control plane is alive."""

    __tablename__ = "heartbeats"

    component: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=text("'{}'::jsonb"))


class CacheCredential(Base):
    """A cache agent's bearer credential: good for one node's cache endpoints only. Stored as
    SHA-256 (a random 256-bit secret, like API tokens); at most one live per node."""

    __tablename__ = "cache_credentials"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    node: Mapped[str] = mapped_column(String(253))
    token_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    prefix: Mapped[str] = mapped_column(String(24))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index(
            "cache_credentials_live_node",
            "node",
            unique=True,
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )


class CacheNode(Base):
    """A node's cache as its agent last reported it (replaced by each report)."""

    __tablename__ = "cache_nodes"

    node: Mapped[str] = mapped_column(String(253), primary_key=True)
    capacity_bytes: Mapped[int] = mapped_column(BigInteger)
    used_bytes: Mapped[int] = mapped_column(BigInteger)
    reserved_bytes: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    high_watermark_bytes: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    low_watermark_bytes: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    # measured download bandwidth in bytes per second; NULL until the agent has measured one
    bandwidth_bps: Mapped[int | None] = mapped_column(BigInteger)
    # when the portal received the last report (its own clock, not the agent's)
    reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class CacheArtifact(Base):
    """One model's state on one node, as the node's agent last reported it."""

    __tablename__ = "cache_artifacts"

    node: Mapped[str] = mapped_column(
        ForeignKey("cache_nodes.node", ondelete="CASCADE"), primary_key=True
    )
    model: Mapped[str] = mapped_column(String(63), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    size: Mapped[int] = mapped_column(BigInteger)
    downloaded: Mapped[int] = mapped_column(BigInteger)
    last_used: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        CheckConstraint(
            "state IN ('absent', 'queued', 'downloading', 'ready', 'failed', 'evicted')",
            name="cache_artifacts_state",
        ),
        CheckConstraint(
            "reason IS NULL OR reason IN "
            "('integrity-mismatch', 'source-unavailable', 'insufficient-capacity')",
            name="cache_artifacts_reason",
        ),
        CheckConstraint("size >= 0 AND downloaded >= 0", name="cache_artifacts_bytes"),
    )


class ReservationChange(Base):
    """A transaction that changed a pool's reservations (or, pool `*`, a username or pool
    description), and the span of time the change covers: written by triggers (migration
    0020), read by the read cache (store/read_cache.py) to know what it holds is stale."""

    __tablename__ = "reservation_changes"

    xid: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    pool: Mapped[str] = mapped_column(Text, primary_key=True)
    span: Mapped[Any] = mapped_column(TSTZRANGE)


class ListChange(Base):
    """A transaction that changed what an owner's reservation list shows (their reservations,
    username, sessions' phase or URL, idle state): written by triggers (migration 0022), read
    by the read cache to know a kept list is stale."""

    __tablename__ = "list_changes"

    owner_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    xid: Mapped[int] = mapped_column(BigInteger, primary_key=True)


class ReservationChangeHorizon(Base):
    """The one row saying below which transaction id the change log was pruned."""

    __tablename__ = "reservation_change_horizon"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    pruned_below: Mapped[int] = mapped_column(BigInteger)
    next_cut: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (CheckConstraint("id = 1", name="reservation_change_horizon_one"),)
