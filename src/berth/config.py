"""Settings (environment, prefix BERTH_) and the pool file.

Everything a deployment changes is a setting here; the pool file describes hardware. The pool
file's schema lives here rather than in the domain because it is about a file format (units as
strings, line numbers in errors); it converts to the domain's plain dataclasses.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from berth.domain import approval as dom_approval
from berth.domain import idle as dom_idle
from berth.domain import mig as dom_mig
from berth.domain import pool as dom
from berth.domain.policy import BookingPolicy
from berth.domain.quantity import QuantityError, parse_bytes, parse_millicores
from berth.domain.session import SessionConfig
from berth.yamlfile import FileError, Loc, line_for, load_model_lines, read_text

if TYPE_CHECKING:
    from berth.store.crypto import SecretBox


def default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "berth"


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class TrustedProxies:
    """The peers whose X-Forwarded-* headers are believed: addresses and networks, or anyone.

    Parsed from `BERTH_FORWARDED_ALLOW_IPS`: a comma-separated list of addresses and CIDR
    networks (`10.0.0.0/8, 127.0.0.1`), or `*` for any peer (only when nothing but the proxy
    can reach the port). Empty, the default: no one, so only the socket peer counts.
    """

    networks: tuple[IPNetwork, ...] = ()
    anyone: bool = False

    @classmethod
    def parse(cls, text: str) -> TrustedProxies:
        items = [item.strip() for item in text.split(",") if item.strip()]
        if "*" in items:
            return cls(anyone=True)
        networks = []
        for item in items:
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError as exc:
                raise ValueError(f"{item!r} is not an IP address or network") from exc
        return cls(tuple(networks))

    def trusts(self, host: str | None) -> bool:
        if self.anyone:
            return True
        if not host or not self.networks:
            return False
        try:
            address = ipaddress.ip_address(host)
        except ValueError:  # a unix socket or a test client's name: not a proxy we know
            return False
        return any(address in net for net in self.networks)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BERTH_", extra="ignore")

    database_url: str | None = None  # unset: the embedded PostgreSQL under data_dir
    data_dir: Path = Field(default_factory=default_data_dir)
    pool_file: Path | None = None  # unset: the demo pool (the reference C845A)
    catalog_file: Path | None = None  # unset: the demo catalog (docs/runtime.md)

    grid_minutes: int = Field(default=15, ge=1, le=1440)
    min_length_minutes: int = Field(default=15, ge=1)
    max_length_hours: float = Field(default=168, gt=0)
    horizon_days: int = Field(default=90, ge=1)
    max_concurrent_per_user: int = Field(default=4, ge=1)
    # the fair waitlist (docs/teams.md): the half-life of the decayed usage that orders the
    # offers, and how long an offer is held for its user (never past the window's start)
    waitlist_half_life_hours: float = Field(default=168, gt=0)
    waitlist_offer_minutes: float = Field(default=15, gt=0)
    # an approval request holds its capacity this long, but not past its start; and at least
    # the minimum, so a booking starting now can still be answered (docs/teams.md#approvals)
    approval_hold_hours: float = Field(default=48, gt=0)
    approval_min_hold_minutes: float = Field(default=60, gt=0)

    # database connections the API keeps open, shared out among `berth serve --workers N`
    # (at least 2 each); each process may open twice its share again in a burst
    db_pool_size: int = Field(default=10, ge=1)
    # what each API process may keep in memory of the calendar, availability and owners'
    # lists, checked against the database before every answer
    # (docs/booking.md#the-read-cache); 0: off
    read_cache_mb: int = Field(default=128, ge=0)

    session_hours: float = Field(default=12, gt=0)  # login session lifetime
    token_days: int = Field(default=90, ge=1)  # default API token lifetime
    token_max_days: int = Field(default=365, ge=1)  # longest API token lifetime one may ask
    audit_retention_days: int = Field(default=365, ge=1)
    login_max_failures: int = Field(default=10, ge=1)  # per name and address, 15 minutes
    login_max_failures_per_address: int = Field(default=100, ge=1)  # all names, 15 minutes
    secure_cookies: bool = False  # force Secure cookies (they are Secure over HTTPS anyway)
    # proxies whose X-Forwarded-For/-Proto/-Host are believed (see TrustedProxies)
    forwarded_allow_ips: str = ""
    # Fernet key(s), comma-separated, the first seals (berth.store.crypto); or a file of them;
    # neither: data_dir/secret.key, made once with mode 0600
    secret_key: SecretStr | None = None
    secret_key_file: Path | None = None
    # ---- signing in (docs/identity.md) ----
    # (BERTH_PUBLIC_URL, below with the notifications' settings: every provider's redirect URI
    # is made from it, never from the request)
    local_login: bool = True  # password accounts of Berth's own (break-glass); false: off
    admin_groups: str = ""  # comma-separated: members are admins (empty: roles are Berth's)
    allowed_groups: str = ""  # comma-separated: only members sign in (empty: anyone)
    # comma-separated names or patterns (`team-*`): groups that become teams (docs/teams.md)
    team_groups: str = ""
    # OpenID Connect (authorization code with PKCE)
    oidc_issuer: str | None = None  # e.g. https://sso.example.com/realms/company
    oidc_client_id: str | None = None
    oidc_client_secret: SecretStr | None = None  # unset: a public client (PKCE only)
    oidc_scopes: str = "openid profile email"
    oidc_username_claim: str = "preferred_username"  # Berth's name for the person
    oidc_groups_claim: str = "groups"
    oidc_display_name: str = "Single sign-on"
    # the claim and prefix the cluster's API server uses (--oidc-username-claim and
    # --oidc-username-prefix): the RoleBinding of a session names prefix + that claim
    oidc_cluster_user_claim: str = "sub"
    oidc_cluster_user_prefix: str = SessionConfig.oidc_user_prefix
    # OpenShift's OAuth server (not OIDC): the API server's URL; the client is the portal's
    # ServiceAccount (`system:serviceaccount:<ns>:<name>`), its token the client secret
    openshift_api_url: str | None = None
    openshift_client_id: str = "system:serviceaccount:berth-system:berth-portal"
    openshift_client_secret_file: Path = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")
    openshift_ca_file: Path | None = None  # CAs to trust beside the system's (the API server's)
    openshift_display_name: str = "OpenShift"

    reconcile_interval: float = Field(default=30, gt=0)  # seconds between cycles
    # seconds between two re-applies of an ACTIVE session's fence objects (drift repair; the
    # sessions are spread over the interval); 0 turns it off
    drift_interval: float = Field(default=1800, ge=0)
    max_attempts: int = Field(default=5, ge=1)  # provisioning attempts before FAILED
    # seconds a workspace may take to become ready after its objects are applied (image pulls
    # included) before it is diagnosed and the attempt counts
    ready_timeout: float = Field(default=600, gt=0)
    # seconds a reachable, healthy cluster may keep answering one session's requests with 5xx
    # (e.g. a broken admission webhook) before the reservation FAILS; an outage FAILS nothing
    server_error_budget: float = Field(default=900, gt=0)
    kubeconfig: Path | None = None  # unset: $KUBECONFIG / ~/.kube/config, or a running sim
    kube_context: str | None = None
    # seconds a Kubernetes request waits for an answer (after 5 s to connect) before the
    # cluster counts as unavailable; a hung API server stalls only its own cluster's thread
    kube_timeout: float = Field(default=30, gt=0)

    # Measured GPU activity and idle reclaim (docs/idle.md): the Prometheus HTTP API that reads
    # the DCGM exporter (and the engines' token counters). Unset: no collection, no reclaim.
    prometheus_url: str | None = None
    # a bearer token read at every query (OpenShift's thanos-querier takes the ServiceAccount's)
    prometheus_token_file: Path | None = None
    prometheus_ca_file: Path | None = None  # unset: the system's CAs
    prometheus_timeout: float = Field(default=5, gt=0, le=60)  # seconds per query
    activity_interval: float = Field(default=60, ge=1)  # seconds per sample of each session

    workspace_image: str = SessionConfig.image
    ingress_domain: str = SessionConfig.ingress_domain
    ingress_class: str | None = None
    ingress_namespace: str = SessionConfig.ingress_namespace
    platform_namespace: str = SessionConfig.platform_namespace
    # the artifact cache's StorageClass (provisioner cache.berth.io/node-cache, the cache agent)
    cache_storage_class: str = SessionConfig.cache_storage_class
    # the berth.io/installation label of every object this installation makes; its reconciler
    # lists, collects and sweeps only those (two installations may share a cluster)
    installation: str = Field(
        default=SessionConfig.installation, pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
    )
    # the cost ledger's $/GPU-hour per pool (or pool/kind): KEY=SOURCE, comma-separated;
    # SOURCE a built-in scenario, a scenario file or a flat rate (berth.tokenomics.rates);
    # empty: every pool on the reference c845a scenario
    usage_costs: str = ""
    # the session's disk (one claim of the pool's StorageClass): home, data and models in it
    disk_size: str = "600Gi"
    # the three claims the disk replaced: set, they refuse to start (they would be ignored)
    home_size: str | None = None
    data_size: str | None = None
    models_size: str | None = None
    http_proxy: str = ""
    https_proxy: str = ""
    no_proxy: str = SessionConfig.no_proxy

    # the portal's address as browsers reach it (https://berth.example.com): links in
    # notifications (docs/notifications.md) and the identity providers' redirect URIs
    # (docs/identity.md)
    public_url: str | None = None
    # e-mail: off while smtp_host is unset
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_security: Literal["none", "starttls", "ssl"] = "starttls"
    smtp_user: str | None = None
    smtp_password_file: Path | None = None
    smtp_from: str = "berth@localhost"
    # host names and networks (comma-separated) webhooks may reach although not public
    webhook_allow_hosts: str = ""
    notify_interval: float = Field(default=10, gt=0)  # seconds between delivery passes
    notify_max_attempts: int = Field(default=6, ge=1)  # attempts per delivery before failed
    notify_retry_base: float = Field(default=30, gt=0)  # seconds; doubled per failed attempt
    notify_retry_cap: float = Field(default=3600, gt=0)  # the longest wait between attempts

    @model_validator(mode="after")
    def _token_days_within_max(self) -> Settings:
        if self.token_days > self.token_max_days:
            raise ValueError("BERTH_TOKEN_DAYS must not exceed BERTH_TOKEN_MAX_DAYS")
        return self

    @model_validator(mode="after")
    def _providers_complete(self) -> Settings:
        if self.oidc_issuer and not self.oidc_client_id:
            raise ValueError("BERTH_OIDC_ISSUER needs BERTH_OIDC_CLIENT_ID")
        if (self.oidc_issuer or self.openshift_api_url) and not self.public_url:
            raise ValueError(
                "an identity provider needs BERTH_PUBLIC_URL (the portal's address as browsers "
                "reach it, e.g. https://berth.example.com): redirect URIs are made from it"
            )
        if self.public_url and not self.public_url.startswith(("https://", "http://")):
            raise ValueError("BERTH_PUBLIC_URL must start with https:// (or http://)")
        if not self.local_login and not (self.oidc_issuer or self.openshift_api_url):
            raise ValueError(
                "BERTH_LOCAL_LOGIN=false needs an identity provider (BERTH_OIDC_ISSUER or "
                "BERTH_OPENSHIFT_API_URL): otherwise no one could sign in"
            )
        return self

    @model_validator(mode="after")
    def _no_replaced_sizes(self) -> Settings:
        old = [name for name in ("home_size", "data_size", "models_size") if getattr(self, name)]
        if old:
            names = ", ".join(f"BERTH_{name.upper()}" for name in old)
            raise ValueError(
                f"{names}: no longer read; a session has one disk now (home, /data and /models "
                "in it): set BERTH_DISK_SIZE to their sum (default 600Gi)"
            )
        return self

    @field_validator("disk_size")
    @classmethod
    def _check_disk_size(cls, v: str) -> str:
        _bytes(v)
        return v

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _check_proxies(cls, v: str) -> str:
        TrustedProxies.parse(v)
        return v

    @field_validator("prometheus_url")
    @classmethod
    def _check_prometheus_url(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError("BERTH_PROMETHEUS_URL must be an http:// or https:// URL")
        return v.rstrip("/") if v else None

    def trusted_proxies(self) -> TrustedProxies:
        return TrustedProxies.parse(self.forwarded_allow_ips)

    def secret_box(self) -> SecretBox:
        """What seals secrets kept in the database (workspace passwords); see store.crypto."""
        from berth.store.crypto import load_box

        key = self.secret_key.get_secret_value() if self.secret_key else None
        return load_box(key, self.secret_key_file, self.data_dir)

    def session_config(self) -> SessionConfig:
        return SessionConfig(
            image=self.workspace_image,
            disk_bytes=parse_bytes(self.disk_size),
            ingress_domain=self.ingress_domain,
            ingress_class=self.ingress_class,
            ingress_namespace=self.ingress_namespace,
            platform_namespace=self.platform_namespace,
            cache_storage_class=self.cache_storage_class,
            installation=self.installation,
            http_proxy=self.http_proxy,
            https_proxy=self.https_proxy,
            no_proxy=self.no_proxy,
            oidc_user_prefix=self.oidc_cluster_user_prefix,
        )

    def policy(self) -> BookingPolicy:
        return BookingPolicy(
            grid=timedelta(minutes=self.grid_minutes),
            min_length=timedelta(minutes=self.min_length_minutes),
            max_length=timedelta(hours=self.max_length_hours),
            horizon=timedelta(days=self.horizon_days),
            max_concurrent_per_user=self.max_concurrent_per_user,
            approval_hold=timedelta(hours=self.approval_hold_hours),
            approval_min_hold=timedelta(minutes=self.approval_min_hold_minutes),
        )


# ---- pool file ----------------------------------------------------------------------------

_Strict = ConfigDict(extra="forbid")


def _positive(parse: Callable[[Any], int], v: Any) -> int:
    """A quantity parsed by `parse`, more than 0; errors as pydantic's ValueError."""
    try:
        n = parse(v)
    except QuantityError as exc:
        raise ValueError(str(exc)) from exc
    if n <= 0:
        raise ValueError("must be more than 0")
    return n


def _bytes(v: Any) -> int:
    return _positive(parse_bytes, v)


def _millicores(v: Any) -> int:
    return _positive(parse_millicores, v)


Name = Annotated[str, Field(pattern=r"^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$")]


class MigFile(BaseModel):
    model_config = _Strict
    profile: str = Field(pattern=r"^[0-9]+g\.[0-9]+gb$")
    count: int = Field(ge=1, le=7)


class GpuFile(BaseModel):
    model_config = _Strict
    index: int = Field(ge=0)
    model: str = Field(min_length=1)
    memory: str | int
    mig: MigFile | None = None
    replicas: int = Field(default=1, ge=1, le=64)

    _memory = field_validator("memory")(_bytes)


class NodeFile(BaseModel):
    model_config = _Strict
    name: str = Field(pattern=r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$")
    cpu: str | int | float
    memory: str | int
    storage_class: str = Field(min_length=1)
    gpus: list[GpuFile] = Field(default_factory=list)

    _cpu = field_validator("cpu")(_millicores)
    _memory = field_validator("memory")(_bytes)


class DefaultsFile(BaseModel):
    model_config = _Strict
    cpu: str | int | float
    memory: str | int

    _cpu = field_validator("cpu")(_millicores)
    _memory = field_validator("memory")(_bytes)


class IdleFile(BaseModel):
    """Idle-GPU reclaim for one GPU kind (docs/idle.md); minutes may be fractional."""

    model_config = _Strict
    threshold: float = Field(default=dom_idle.NOISE_FLOOR, ge=0, lt=1)
    idle_minutes: float | None = Field(default=None, gt=0)
    answer_minutes: float = Field(default=30, gt=0)
    keep_minutes: float = Field(default=120, gt=0)
    no_show_minutes: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _does_something(self) -> IdleFile:
        if self.idle_minutes is None and self.no_show_minutes is None:
            raise ValueError("does nothing: set idle_minutes, no_show_minutes or both")
        return self


class LimitsFile(BaseModel):
    """Over what a booking needs approval (docs/teams.md#approvals); unset: no rule."""

    model_config = _Strict
    over_hours: float | None = Field(default=None, gt=0)
    over_units: int | None = Field(default=None, ge=0)


class ApprovalFile(LimitsFile):
    """A pool's approval rules, with per-GPU-kind overrides of either limit."""

    kinds: dict[str, LimitsFile] = Field(default_factory=dict)


class PoolFile(BaseModel):
    model_config = _Strict
    name: Name
    nodes: list[NodeFile] = Field(min_length=1)
    defaults: dict[str, DefaultsFile] = Field(default_factory=dict)
    cluster: Name = dom.DEFAULT_CLUSTER
    idle: dict[str, IdleFile] = Field(default_factory=dict)
    approval: ApprovalFile | None = None


class ClusterFile(BaseModel):
    """A cluster pools live on (docs/scale.md): a kubeconfig file, relative to the pool file's
    folder, and a context in it (default: the file's current context)."""

    model_config = _Strict
    name: Name
    kubeconfig: str | None = Field(default=None, min_length=1)
    context: str | None = Field(default=None, min_length=1)


class PoolsFile(BaseModel):
    model_config = _Strict
    clusters: list[ClusterFile] = Field(default_factory=list)
    pools: list[PoolFile] = Field(min_length=1)


@dataclass(frozen=True)
class PoolLayout:
    """A pool file read whole: its pools, every cluster they may name (`default` always
    among them) and warnings about what could not be checked."""

    pools: list[dom.Pool]
    clusters: dict[str, dom.ClusterRef]
    warnings: list[str]

    def used(self) -> list[str]:
        """The clusters some pool lives on, in the file's order (default first if used)."""
        names = list(self.clusters)
        return [c for c in names if any(p.cluster == c for p in self.pools)]


def _to_domain(f: PoolFile) -> dom.Pool:
    def num(v: object) -> int:
        assert isinstance(v, int)  # validators above turned every quantity into an int
        return v

    return dom.Pool(
        name=f.name,
        cluster=f.cluster,
        nodes=tuple(
            dom.Node(
                name=n.name,
                cpu_millicores=num(n.cpu),
                memory_bytes=num(n.memory),
                storage_class=n.storage_class,
                gpus=tuple(
                    dom.Gpu(
                        index=g.index,
                        model=g.model,
                        memory_bytes=num(g.memory),
                        replicas=g.replicas,
                        mig=dom.Mig(g.mig.profile, g.mig.count) if g.mig else None,
                    )
                    for g in n.gpus
                ),
            )
            for n in f.nodes
        ),
        defaults={
            kind: dom.KindDefaults(num(d.cpu), num(d.memory)) for kind, d in f.defaults.items()
        },
        idle={kind: dom_idle.IdlePolicy(**i.model_dump()) for kind, i in f.idle.items()},
        approval=_approval(f.approval),
    )


def _approval(f: ApprovalFile | None) -> dom_approval.ApprovalRules | None:
    if f is None:
        return None
    return dom_approval.ApprovalRules(
        over_hours=f.over_hours,
        over_units=f.over_units,
        kinds={k: dom_approval.Limits(v.over_hours, v.over_units) for k, v in f.kinds.items()},
    )


def _idle_problems(parsed: PoolsFile, lines: Mapping[Loc, int]) -> list[str]:
    """Idle policies for GPU kinds their pool does not have, with the line they are on."""
    problems = []
    for p, pool in enumerate(parsed.pools):
        kinds = _to_domain(pool).kinds()
        named = [("idle", kind) for kind in pool.idle]
        named += [("approval", kind) for kind in (pool.approval.kinds if pool.approval else {})]
        for section, kind in named:
            if kind not in kinds:
                loc: Loc = (
                    ("pools", p, "idle", kind)
                    if section == "idle"
                    else ("pools", p, "approval", "kinds", kind)
                )
                where = ".".join(str(part) for part in loc)
                known = ", ".join(sorted(kinds)) or "none"
                problems.append(
                    f"{line_for(loc, lines)}: {where}: pool {pool.name!r} has no "
                    f"GPU kind {kind!r} (its kinds: {known})"
                )
    return problems


def _mig_problems(
    parsed: PoolsFile, lines: Mapping[Loc, int], path: str
) -> tuple[list[str], list[str]]:
    """MIG slices the named GPU model cannot make (errors) and models Berth cannot check
    (warnings, `path:line: field: message`), from the table in `berth.domain.mig`."""
    errors: list[str] = []
    warnings: list[str] = []
    for p, pool in enumerate(parsed.pools):
        for n, node in enumerate(pool.nodes):
            for g, gpu in enumerate(node.gpus):
                if gpu.mig is None:
                    continue
                assert isinstance(gpu.memory, int)  # the validator made it bytes
                verdict = dom_mig.check(gpu.model, gpu.memory, gpu.mig.profile, gpu.mig.count)
                at: Loc = ("pools", p, "nodes", n, "gpus", g)
                if verdict.error is not None and verdict.field is not None:
                    loc: Loc = (*at, "mig", verdict.field)
                    field = ".".join(str(part) for part in loc)
                    errors.append(f"{line_for(loc, lines)}: {field}: {verdict.error}")
                if verdict.warning is not None:
                    loc = (*at, "model")
                    field = ".".join(str(part) for part in loc)
                    warnings.append(f"{path}:{line_for(loc, lines)}: {field}: {verdict.warning}")
    return errors, warnings


def _cluster_problems(
    parsed: PoolsFile, lines: Mapping[Loc, int], path: str, base: Path
) -> tuple[dict[str, dom.ClusterRef], list[str], list[str]]:
    """The clusters by name (the implicit `default` included), errors (a name given twice, a
    pool naming an unknown cluster, a cluster with no way to reach it) and warnings (a
    kubeconfig not found here: it may exist only where the reconciler runs, which refuses to
    start without it). A relative kubeconfig is relative to the pool file's folder."""

    def at(loc: Loc, message: str) -> str:
        return f"{line_for(loc, lines)}: {'.'.join(str(part) for part in loc)}: {message}"

    clusters = {dom.DEFAULT_CLUSTER: dom.ClusterRef(dom.DEFAULT_CLUSTER)}
    errors: list[str] = []
    warnings: list[str] = []
    for i, c in enumerate(parsed.clusters):
        if any(d.name == c.name for d in parsed.clusters[:i]):
            errors.append(at(("clusters", i, "name"), f"cluster {c.name!r} is defined twice"))
            continue
        if c.kubeconfig is None and c.name != dom.DEFAULT_CLUSTER:
            errors.append(
                at(
                    ("clusters", i),
                    f"cluster {c.name!r} needs a kubeconfig (only `default` is found by itself)",
                )
            )
            continue
        kubeconfig = str(base / c.kubeconfig) if c.kubeconfig is not None else None
        if kubeconfig is not None and not Path(kubeconfig).is_file():
            warnings.append(
                f"{path}:{at(('clusters', i, 'kubeconfig'), f'{kubeconfig} does not exist here')}"
            )
        clusters[c.name] = dom.ClusterRef(c.name, kubeconfig, c.context)
    names = ", ".join(sorted(clusters))
    for i, p in enumerate(parsed.pools):
        if p.cluster not in clusters:
            errors.append(
                at(("pools", i, "cluster"), f"unknown cluster {p.cluster!r} (clusters: {names})")
            )
    return clusters, errors, warnings


def _checked(text: str, path: str, base: Path) -> PoolLayout:
    parsed, lines = load_model_lines(PoolsFile, text, path)
    errors, warnings = _mig_problems(parsed, lines, path)
    errors += _idle_problems(parsed, lines)
    clusters, cluster_errors, cluster_warnings = _cluster_problems(parsed, lines, path, base)
    if errors or cluster_errors:
        raise FileError(path, errors + cluster_errors)
    pools = [_to_domain(p) for p in parsed.pools]
    problems = dom.validate_pools(pools)
    if problems:
        raise FileError(path, [f"0: {p}" for p in problems])
    return PoolLayout(pools, clusters, warnings + cluster_warnings)


def check_pool_layout(path: Path | None = None) -> PoolLayout:
    """Pools, clusters and warnings from `path` (or the demo pool, on the default cluster).
    Raises FileError naming file, line and field."""
    if path is None:
        text = resources.files("berth").joinpath("pools/demo.yaml").read_text(encoding="utf-8")
        return _checked(text, "demo.yaml", Path.cwd())
    return _checked(read_text(path), str(path), path.parent)


def check_pool_file(path: Path | None = None) -> tuple[list[dom.Pool], list[str]]:
    """Pools from `path` (or the demo pool) and warnings about what could not be checked (a
    GPU model missing from the MIG table, a kubeconfig not found here). Raises FileError
    naming file, line and field."""
    layout = check_pool_layout(path)
    return layout.pools, layout.warnings


def load_pool_file(path: Path | None = None) -> list[dom.Pool]:
    """Pools from `path`, or the demo pool. Raises FileError naming file, line and field."""
    return check_pool_file(path)[0]


def check_pool_text(text: str, path: str = "<string>") -> tuple[list[dom.Pool], list[str]]:
    """Like check_pool_file, for text already in memory (kubeconfigs relative to the current
    folder)."""
    layout = _checked(text, path, Path.cwd())
    return layout.pools, layout.warnings


def load_pool_text(text: str, path: str = "<string>") -> list[dom.Pool]:
    return _checked(text, path, Path.cwd()).pools


def demo_pool_path() -> Path:
    return Path(str(resources.files("berth").joinpath("pools/demo.yaml")))
