"""Request and response bodies. Create, Update and Public shapes are separate on purpose:
what a client may send is never silently the same as what the server returns."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    field_validator,
    model_validator,
)

from berth.domain.catalog import ID, ArtifactState, FailureReason, ModelFormat, Stage
from berth.domain.quantity import QuantityError, parse_bytes, parse_millicores
from berth.domain.reservation import Mode, Request, Status
from berth.domain.waitlist import WaitlistState

Username = Annotated[str, Field(min_length=2, max_length=32, examples=["alice"])]
Role = Literal["admin", "user"]

_ISO_8601 = re.compile(r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d")


def _iso_8601(value: Any) -> Any:
    """A date-time is written as one (RFC 3339), never as a number of seconds since 1970."""
    if isinstance(value, int | float) or (isinstance(value, str) and not _ISO_8601.match(value)):
        raise ValueError("must be an ISO 8601 date-time with a time zone, like 2030-01-07T09:00Z")
    return value


# Every date-time a client sends: ISO 8601 with an offset (pydantic alone also takes numbers).
Instant = Annotated[AwareDatetime, BeforeValidator(_iso_8601)]
# A row id (a PostgreSQL bigint identity): anything outside cannot name a row.
MAX_ROW_ID = 2**63 - 1
RowId = Annotated[int, Field(ge=1, le=MAX_ROW_ID)]

NUL_MESSAGE = "must not contain NUL (\\x00) characters"


class Strict(BaseModel):
    """A request body: unknown fields are refused, and no text may carry a NUL character
    (PostgreSQL cannot store one; the field is named in a 422 instead of failing later)."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if isinstance(value, str) and "\x00" in value:
            raise ValueError(NUL_MESSAGE)
        return value


# ---- auth ---------------------------------------------------------------------------------


class LoginRequest(Strict):
    username: str = Field(max_length=64)
    password: str = Field(max_length=1024)


class UserPublic(BaseModel):
    username: str
    role: Role
    disabled: bool = False
    created_at: datetime | None = None
    provider: Literal["local", "oidc", "openshift"] = Field(
        default="local",
        description="Where the account comes from: a password of Berth's own, or a provider",
    )


class SignInProvider(BaseModel):
    id: Literal["oidc", "openshift"]
    name: str = Field(description="What the button says, e.g. 'Single sign-on'")
    url: str = Field(description="Where the browser goes to sign in (a navigation, not a fetch)")


class SignInOptions(BaseModel):
    """How one may sign in here: the password form (unless switched off) and providers."""

    password: bool
    providers: list[SignInProvider]


class SessionStatus(BaseModel):
    """Whether the caller is signed in, and as whom (the UI's first question)."""

    signed_in: bool
    user: UserPublic | None = None
    expires_at: datetime | None = Field(
        default=None, description="When the session cookie or token presented expires"
    )


class LoginResponse(BaseModel):
    token: str
    expires_at: datetime
    user: UserPublic


class TokenCreate(Strict):
    name: str = Field(min_length=1, max_length=128)
    expires_in_days: StrictInt | None = Field(
        default=None,
        ge=1,
        le=3650,
        description="Default: the server's token_days; at most its token_max_days, and never "
        "past the expiry of the API token this request is made with",
    )


class TokenPublic(BaseModel):
    id: int
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime
    revoked: bool


class TokenCreated(TokenPublic):
    token: str = Field(description="The secret. Shown once; store it now.")


class CalendarFeedPublic(BaseModel):
    active: bool = Field(description="Whether you have a feed URL (it is never shown again).")
    created_at: datetime | None = None


class CalendarFeedCreated(BaseModel):
    url: str = Field(
        description="The private feed URL, shown once: anyone with it reads your reservations."
    )
    created_at: datetime


# ---- users --------------------------------------------------------------------------------


class UserCreate(Strict):
    username: Username
    password: str = Field(
        max_length=1024,
        description="At least 12 characters, not a common or easily guessed password",
    )
    role: Role = "user"


class UserUpdate(Strict):
    role: Role | None = None
    disabled: StrictBool | None = None
    password: str | None = Field(
        default=None,
        max_length=1024,
        description="A new password (at least 12 characters, not a common one); "
        "revokes the user's sessions and API tokens",
    )


# ---- pools --------------------------------------------------------------------------------


class GpuKindPublic(BaseModel):
    name: str = Field(examples=["mig-1g.24gb"])
    units: int = Field(description="Physical units in the pool (whole GPUs or MIG slices)")
    replicas: int = Field(description="Kubernetes slots per booked unit (time-slicing)")
    resource: str = Field(examples=["nvidia.com/mig-1g.24gb"])
    model: str
    memory: str = Field(description="GPU memory of one unit", examples=["24Gi"])
    default_cpu: float = Field(description="CPU cores per unit when a request names none")
    default_memory: str = Field(description="Memory per unit when a request names none")


class NodePublic(BaseModel):
    name: str
    cpu: float
    memory: str
    storage_class: str
    gpus: int


class PoolPublic(BaseModel):
    name: str
    cluster: str = Field(description="The Kubernetes cluster the pool's nodes are in")
    kinds: list[GpuKindPublic]
    cpu: float
    memory: str
    memory_bytes: int
    nodes: list[NodePublic]


class Step(BaseModel):
    start: datetime
    end: datetime
    free: dict[str, float] = Field(
        description="Free GPU units per kind, `cpu` in cores and `memory_bytes`"
    )


class Availability(BaseModel):
    pool: str
    start: datetime
    end: datetime
    capacity: dict[str, float]
    steps: list[Step]


# ---- reservations -------------------------------------------------------------------------


class GpuRequest(Strict):
    kind: str = Field(examples=["mig-1g.24gb"])
    count: StrictInt = Field(ge=1, le=4096, examples=[2])


CatalogName = Annotated[str, Field(max_length=63, examples=["vllm"])]


class StageRequest(Strict):
    """What the reservation will use; every name must be in the catalog (`GET /catalog`)."""

    engines: list[CatalogName] = Field(default_factory=list, max_length=16, examples=[["vllm"]])
    models: list[CatalogName] = Field(
        default_factory=list, max_length=16, examples=[["demo-hf-tiny"]]
    )


class StagePublic(BaseModel):
    engines: list[str]
    models: list[str]


StagingStateName = Literal["staged", "staging", "waiting", "failed"]


class ModelStagingPublic(BaseModel):
    model: str
    state: StagingStateName
    percent: int
    nodes_ready: int = Field(description="Nodes of the pool where the model is ready")
    nodes: int


class StagingPublic(BaseModel):
    """How far the reservation's models are on its pool's nodes (from the agents' reports)."""

    state: StagingStateName = Field(
        description="staged: ready on every node; staging: bytes are moving; waiting: queued, "
        "nothing moved yet; failed: a node reported a failure (reason, detail)"
    )
    percent: int = Field(description="Of the bytes over every node and model")
    bytes_done: int
    bytes_total: int
    expected_start: datetime | None = Field(
        default=None,
        description="waiting: when the first download is expected to begin (start minus the "
        "lead time from size and the node's measured bandwidth)",
    )
    reason: str | None = Field(default=None, examples=["integrity-mismatch"])
    detail: str | None = None
    node: str | None = Field(default=None, description="failed: the node that reported it")
    model: str | None = Field(default=None, description="failed: the model")
    models: list[ModelStagingPublic]


class ReservationCreate(Strict):
    pool: str = Field(max_length=64, examples=["c845a"])
    start: Instant = Field(description="UTC; a start within 2 minutes of now means now")
    end: Instant
    gpu: GpuRequest
    mode: Mode = Mode.INTERACTIVE
    cpu: StrictFloat | str | None = Field(
        default=None, description="Cores (16) or millicores ('500m')"
    )
    memory: str | StrictInt | None = Field(default=None, examples=["128Gi"])
    stage: StageRequest | None = Field(
        default=None,
        description="Engines and models to have on the pool's nodes before the window opens",
    )
    team: str | None = Field(
        default=None,
        max_length=64,
        description="The team it is for (docs/teams.md); unset: your only team, if any",
    )
    ask: bool = Field(
        default=False,
        description="Over the team's budget, ask for approval instead of being refused: the "
        "booking is made PENDING until a lead or an admin decides",
    )

    @field_validator("cpu")
    @classmethod
    def _cpu(cls, v: float | str | None) -> float | str | None:
        if v is not None:
            try:
                if parse_millicores(v) <= 0:
                    raise ValueError("must be more than 0")
            except QuantityError as exc:
                raise ValueError(str(exc)) from exc
        return v

    @field_validator("memory")
    @classmethod
    def _memory(cls, v: str | int | None) -> str | int | None:
        if v is not None:
            try:
                if parse_bytes(v) <= 0:
                    raise ValueError("must be more than 0")
            except QuantityError as exc:
                raise ValueError(str(exc)) from exc
        return v

    def request(self) -> Request:
        """The domain's request (a booking and a waitlist entry take the same body)."""
        return Request(
            pool=self.pool,
            start=self.start,
            end=self.end,
            gpu_kind=self.gpu.kind,
            gpu_count=self.gpu.count,
            mode=self.mode,
            cpu_millicores=parse_millicores(self.cpu) if self.cpu is not None else None,
            memory_bytes=parse_bytes(self.memory) if self.memory is not None else None,
            team=self.team,
        )

    def staged(self) -> Stage:
        return Stage(tuple(self.stage.engines), tuple(self.stage.models)) if self.stage else Stage()


class ReservationExtend(Strict):
    end: Instant


class ReservationCancel(Strict):
    reason: str | None = Field(default=None, max_length=500)


class GpuPublic(BaseModel):
    kind: str
    count: int


class IdlePublic(BaseModel):
    """An ACTIVE session's standing idle warning and its owner's last "keep" (docs/idle.md)."""

    reason: Literal["idle", "no-show"] | None = Field(
        default=None, description="Why it was warned; null: no warning stands"
    )
    warned_at: datetime | None = None
    release_at: datetime | None = Field(
        default=None, description="When it is released (COMPLETED) unless kept or used"
    )
    keep_until: datetime | None = Field(
        default=None, description="The last keep: no warning nor release before this"
    )


class ReservationPublic(BaseModel):
    id: uuid.UUID
    status: Status
    owner: str
    pool: str
    start: datetime
    end: datetime
    gpu: GpuPublic
    mode: Mode
    cpu: float
    memory: str
    reason: str | None = Field(
        default=None,
        description="Why it ended or was refused; for a PENDING approval request, why it "
        "needs approval",
    )
    team_id: int | None = Field(default=None, description="The team it was booked for (GET /teams)")
    hold_kind: Literal["approval", "offer"] | None = Field(
        default=None,
        description="PENDING only: what it waits for (a lead's or admin's "
        "approval, or its user to take a waitlist offer)",
    )
    hold_until: datetime | None = Field(
        default=None, description="PENDING only: it holds its capacity until then, then EXPIRED"
    )
    phase: str | None = Field(
        default=None, description="Session phase: provisioning, ready, tearing_down, gone, failed"
    )
    workspace_url: str | None = None
    stage: StagePublic
    staging: StagingPublic | None = Field(
        default=None, description="Live reservations that stage a model; null otherwise"
    )
    idle: IdlePublic | None = Field(
        default=None,
        description="ACTIVE reservations warned or kept (idle reclaim); null otherwise",
    )
    created_at: datetime
    updated_at: datetime


class WaitlistEntryPublic(BaseModel):
    """A request on the fair waitlist (docs/teams.md). `offer` is the reservation held for it
    while the entry is OFFERED (and after, what became of it); `offer_until` when that offer
    lapses."""

    id: int
    state: WaitlistState
    owner: str
    team: str | None = None
    pool: str
    start: datetime
    end: datetime
    gpu: GpuPublic
    mode: Mode
    cpu: float
    memory: str
    stage: StagePublic
    reason: str | None = None
    offer: uuid.UUID | None = Field(default=None, description="The offer's reservation id")
    offer_status: Status | None = None
    offer_until: datetime | None = Field(
        default=None, description="While OFFERED: when the offer lapses unless accepted"
    )
    created_at: datetime
    updated_at: datetime


class WaitlistAccepted(BaseModel):
    entry: WaitlistEntryPublic
    reservation: ReservationPublic


class ApprovalPublic(ReservationPublic):
    """A PENDING approval request the caller may decide."""

    team: str | None = Field(default=None, description="The team it is booked for")


class ReservationReject(Strict):
    reason: str = Field(min_length=1, max_length=500, description="Told to the owner")

    @field_validator("reason")
    @classmethod
    def _said(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("say why (the owner is told)")
        return v.strip()


class WorkspacePublic(BaseModel):
    """The session behind a reservation; URL and password only once the workspace is ready."""

    phase: str = Field(description="waiting (not started), provisioning, ready, tearing_down, ...")
    namespace: str | None
    step: str | None = None
    url: str | None = None
    password: str | None = None
    last_error: str | None = None
    attempts: int = 0
    ready_at: datetime | None = None
    next_check_at: datetime | None = Field(
        default=None,
        description="While provisioning: when the reconciler retries (after an error) or, "
        "while it waits for the workspace (step workspace-wait), when that wait's budget ends "
        "and the workspace is diagnosed",
    )
    staging: StagingPublic | None = None


class CalendarEntry(BaseModel):
    """A block on the calendar; others' blocks show only that capacity is busy."""

    id: uuid.UUID | None = None
    mine: bool
    owner: str | None = None
    status: Status
    pool: str
    start: datetime
    end: datetime
    gpu: GpuPublic


# ---- the runtime catalog and the node cache -----------------------------------------------


class EnginePublic(BaseModel):
    name: str
    image: str
    digest: str | None
    port: int
    formats: list[ModelFormat]
    openai_path: str | None


class ModelPublic(BaseModel):
    id: str
    format: ModelFormat
    description: str
    size: int = Field(description="Bytes, all files")
    files: int


class CatalogPublic(BaseModel):
    engines: list[EnginePublic]
    models: list[ModelPublic]


ModelId = Annotated[str, Field(max_length=63, pattern=ID.pattern)]
Bytes = Annotated[StrictInt, Field(ge=0, le=2**62)]


class CacheModelState(Strict):
    """One model in a node's report (`berth.domain.cache_protocol.ModelReport`)."""

    model: ModelId
    state: ArtifactState
    size_bytes: Bytes = Field(description="The catalog size of the whole tree")
    downloaded_bytes: Bytes = Field(default=0, description="On disk so far")
    last_used: Instant | None = None
    reason: FailureReason | None = Field(
        default=None, description="Set with state failed (and queued: insufficient-capacity)"
    )
    detail: str = Field(default="", max_length=2000, description="One line")

    @model_validator(mode="after")
    def _consistent(self) -> CacheModelState:
        if self.downloaded_bytes > self.size_bytes:
            raise ValueError("downloaded_bytes: more than size_bytes")
        if self.state is ArtifactState.FAILED and self.reason is None:
            raise ValueError("reason: a failed model needs one")
        if self.reason is not None and self.state not in (
            ArtifactState.FAILED,
            ArtifactState.QUEUED,
        ):
            raise ValueError("reason: only with state failed or queued")
        return self


class CacheNodeState(Strict):
    """A node's report (`PUT /cache/nodes/{node}/state`, `cache_protocol.NodeReport`): replaces
    the node's rows."""

    node: str = Field(max_length=253, description="Must be the node of the path")
    reported_at: Instant = Field(description="The agent's clock; the portal records its own")
    capacity_bytes: Bytes
    used_bytes: Bytes
    reserved_bytes: Bytes = 0
    high_watermark_bytes: Bytes = 0
    low_watermark_bytes: Bytes = 0
    bandwidth_bytes_per_second: float | None = Field(
        default=None, ge=0, le=2**62, allow_inf_nan=False, description="Measured; null before"
    )
    models: list[CacheModelState] = Field(default_factory=list, max_length=10000)

    @model_validator(mode="after")
    def _unique(self) -> CacheNodeState:
        ids = [m.model for m in self.models]
        if len(ids) != len(set(ids)):
            raise ValueError("models: a model is listed twice")
        return self


class PlanFile(BaseModel):
    path: str
    size: int
    sha256: str


class PlanModel(BaseModel):
    """A catalog entry, as `berth.domain.catalog.to_json` writes a model."""

    id: str
    format: ModelFormat
    description: str
    files: list[PlanFile]
    sources: list[dict[str, Any]] = Field(description="{url} or {s3: {endpoint, bucket, prefix}}")


class PlanStageItem(BaseModel):
    model: str
    start: datetime = Field(description="The earliest start of a live booking that names it")
    size_bytes: int
    download_from: datetime = Field(
        description="start - lead time: 6 h + 3 x size / bandwidth (the node's measured "
        "bandwidth; 6 h alone until it has measured one), the agent's own rule"
    )
    reservations: int = Field(description="How many live bookings name it")


class CachePlan(BaseModel):
    """What the node's agent should hold (`cache_protocol.Plan`; the agent ignores the extra
    fields `size_bytes`, `download_from`, `reservations` and `bandwidth_bytes_per_second`)."""

    node: str
    stage: list[PlanStageItem] = Field(description="In order of start")
    keep: list[str] = Field(description="Every model a live booking of the node's pools names")
    models: list[PlanModel] = Field(description="The catalog entry of every model in stage/keep")
    bandwidth_bytes_per_second: float | None = Field(
        description="The bandwidth the lead times assume (null: none measured yet)"
    )


class CacheArtifactPublic(BaseModel):
    model: str
    state: ArtifactState
    size_bytes: int
    downloaded_bytes: int
    percent: int
    last_used: datetime | None
    reason: str | None
    detail: str | None
    updated_at: datetime
    needed: bool = Field(description="Named by a live booking of the node's pools")


class CacheCredentialPublic(BaseModel):
    prefix: str
    created_at: datetime
    expires_at: datetime | None


class CacheNodePublic(BaseModel):
    node: str
    pools: list[str]
    credential: CacheCredentialPublic | None
    capacity_bytes: int | None = None
    used_bytes: int | None = None
    reserved_bytes: int | None = None
    high_watermark_bytes: int | None = None
    low_watermark_bytes: int | None = None
    bandwidth_bytes_per_second: int | None = None
    reported_at: datetime | None = Field(default=None, description="null: never reported")
    models: list[CacheArtifactPublic]
    missing: list[str] = Field(
        description="Models a live booking of the node's pools names that it has not reported"
    )


# ---- audit --------------------------------------------------------------------------------


class AuditPublic(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    target: str
    details: dict[str, object]
    client: str | None


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, str] = {}


# ---- notifications ------------------------------------------------------------------------

NotificationKind = Literal["ready", "failed", "ending", "idle", "released", "request", "offer"]
NotificationAction = Literal["extend", "release", "keep", "open"]
NotificationChannel = Literal["email", "webhook"]


class NotificationPublic(BaseModel):
    id: int
    kind: NotificationKind
    title: str
    body: str
    reservation_id: uuid.UUID | None = None
    actions: list[NotificationAction] = Field(
        description="What the message offers: extend the window, release now, keep the "
        "session (an idle warning), open the workspace."
    )
    created_at: datetime
    read_at: datetime | None = None


class NotificationList(BaseModel):
    unread: int = Field(description="Your unread messages, all of them (not only those listed).")
    items: list[NotificationPublic] = Field(description="Your latest messages, newest first.")


class NotificationPreferencesUpdate(Strict):
    email: str | None = Field(default=None, max_length=254, examples=["alice@example.org"])
    webhook_url: str | None = Field(
        default=None,
        max_length=2000,
        description="A Slack-compatible incoming webhook (http or https, public address).",
    )
    channels: dict[NotificationKind, list[NotificationChannel]] = Field(
        default_factory=dict,
        description="The channels (beyond the portal, which has every message) for each kind.",
    )
    lead_minutes: list[StrictInt] = Field(
        default=[30, 5],
        max_length=5,
        description="How many minutes before a window ends a reminder is sent (1 to 1440).",
    )


class NotificationPreferencesPublic(BaseModel):
    email: str | None
    webhook_url: str | None
    channels: dict[NotificationKind, list[NotificationChannel]]
    lead_minutes: list[int]
    email_available: bool = Field(description="Whether this installation sends e-mail at all.")


# ---- the cost ledger (GET /usage; docs/usage.md) ------------------------------------------


class UsageFigures(BaseModel):
    """GPU-hours in physical GPUs (a MIG slice as its fraction), dollars, tokens."""

    reserved_gpu_hours: float
    measured_gpu_hours: float = Field(description="reserved GPU-hours with an activity sample")
    used_gpu_hours: float = Field(description="Σ GPU activity × time × GPUs")
    idle_gpu_hours: float = Field(description="measured − used")
    measured_share: float | None = Field(description="measured / reserved; null: nothing held")
    idle_share: float | None = Field(description="idle / measured; null: nothing measured")
    cost: float = Field(description="dollars: reserved × held rate + used × load rate")
    tokens_prompt: float
    tokens_generated: float
    cost_per_mtok: float | None = Field(description="dollars per million tokens; null: none")


class UsageRow(UsageFigures):
    """One group; a key the report is not grouped by is null."""

    user: str | None = None
    team: str | None = Field(default=None, description='the team; "(no team)" for none')
    pool: str | None = None
    gpu_kind: str | None = None
    day: str | None = Field(default=None, description="local date, YYYY-MM-DD")


class UsageSession(UsageFigures):
    id: uuid.UUID
    user: str
    pool: str
    gpu_kind: str
    gpu_count: int
    start: datetime
    end: datetime
    status: Status
    reason: str | None


class UsageRate(BaseModel):
    pool: str
    gpu_kind: str
    held_per_gpu_hour: float = Field(description="$ per reserved GPU-hour")
    load_per_gpu_hour: float = Field(description="$ per used GPU-hour, on top")
    source: str


class UsageReport(BaseModel):
    start: datetime
    end: datetime = Field(description="the requested end, or now if that is earlier")
    timezone: str
    group_by: list[str]
    everyone: bool = Field(description="every user's reservations (admins), else the caller's")
    rows: list[UsageRow]
    total: UsageFigures
    sessions: list[UsageSession] = Field(description="the most idle sessions first")
    session_count: int
    rates: list[UsageRate]


# ---- teams (docs/teams.md) ----

TeamName = Annotated[str, Field(max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$")]


class TeamCreate(Strict):
    name: TeamName
    group: str | None = Field(
        default=None, max_length=272, description="A provider's group: `provider:name` or `name`"
    )


class TeamMemberSet(Strict):
    lead: bool = False


class TeamBudgetSet(Strict):
    max_units: StrictInt | None = Field(default=None, ge=0, le=1_000_000)
    gpu_hours_week: float | None = Field(default=None, ge=0, le=1e9, allow_inf_nan=False)
    gpu_hours_month: float | None = Field(default=None, ge=0, le=1e9, allow_inf_nan=False)


class TeamMemberPublic(BaseModel):
    username: str
    lead: bool
    added: bool = Field(description="Added by an admin (else in through the team's group)")


class TeamDay(BaseModel):
    day: date
    gpu_hours: float


class TeamBudgetPublic(BaseModel):
    pool: str
    gpu_kind: str
    max_units: int | None
    gpu_hours_week: float | None
    gpu_hours_month: float | None
    units_now: int = Field(description="Units of the kind the team holds now")
    week_used: float = Field(description="GPU-hours booked or used in this UTC week")
    week_left: float | None
    month_used: float
    month_left: float | None
    daily: list[TeamDay] = Field(description="GPU-hours per UTC day of this month")


class TeamPublic(BaseModel):
    name: str
    group: str | None
    lead: bool = Field(description="You lead this team")
    members: list[TeamMemberPublic]
    budgets: list[TeamBudgetPublic]
