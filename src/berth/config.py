"""Settings (environment, prefix BERTH_) and the pool file.

Everything a deployment changes is a setting here; the pool file describes hardware. The pool
file's schema lives here rather than in the domain because it is about a file format (units as
strings, line numbers in errors); it converts to the domain's plain dataclasses.
"""

from __future__ import annotations

from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from berth.domain import pool as dom
from berth.domain.policy import BookingPolicy
from berth.domain.quantity import QuantityError, parse_bytes, parse_millicores
from berth.domain.session import SessionConfig
from berth.yamlfile import FileError, load_model, load_model_text


def default_data_dir() -> Path:
    return Path.home() / ".local" / "share" / "berth"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BERTH_", extra="ignore")

    database_url: str | None = None  # unset: the embedded PostgreSQL under data_dir
    data_dir: Path = Field(default_factory=default_data_dir)
    pool_file: Path | None = None  # unset: the demo pool (the reference C845A)

    grid_minutes: int = Field(default=15, ge=1, le=1440)
    min_length_minutes: int = Field(default=15, ge=1)
    max_length_hours: float = Field(default=168, gt=0)
    horizon_days: int = Field(default=90, ge=1)
    max_concurrent_per_user: int = Field(default=4, ge=1)

    session_hours: float = Field(default=12, gt=0)  # login session lifetime
    token_days: int = Field(default=90, ge=1)  # default API token lifetime
    audit_retention_days: int = Field(default=365, ge=1)
    login_max_failures: int = Field(default=10, ge=1)  # per name and address, 15 minutes
    secure_cookies: bool = False  # set behind TLS
    reconcile_interval: float = Field(default=30, gt=0)  # seconds between cycles
    # seconds between two re-applies of an ACTIVE session's fence objects (drift repair; the
    # sessions are spread over the interval); 0 turns it off
    drift_interval: float = Field(default=1800, ge=0)
    max_attempts: int = Field(default=5, ge=1)  # provisioning attempts before FAILED
    # seconds a workspace may take to become ready after its objects are applied (image pulls
    # included) before it is diagnosed and the attempt counts
    ready_timeout: float = Field(default=600, gt=0)
    kubeconfig: Path | None = None  # unset: $KUBECONFIG / ~/.kube/config, or a running sim
    kube_context: str | None = None

    workspace_image: str = SessionConfig.image
    ingress_domain: str = SessionConfig.ingress_domain
    ingress_class: str | None = None
    ingress_namespace: str = SessionConfig.ingress_namespace
    platform_namespace: str = SessionConfig.platform_namespace
    home_size: str = "20Gi"
    data_size: str = "280Gi"
    models_size: str = "300Gi"
    http_proxy: str = ""
    https_proxy: str = ""
    no_proxy: str = SessionConfig.no_proxy

    def session_config(self) -> SessionConfig:
        return SessionConfig(
            image=self.workspace_image,
            home_bytes=parse_bytes(self.home_size),
            data_bytes=parse_bytes(self.data_size),
            models_bytes=parse_bytes(self.models_size),
            ingress_domain=self.ingress_domain,
            ingress_class=self.ingress_class,
            ingress_namespace=self.ingress_namespace,
            platform_namespace=self.platform_namespace,
            http_proxy=self.http_proxy,
            https_proxy=self.https_proxy,
            no_proxy=self.no_proxy,
        )

    def policy(self) -> BookingPolicy:
        return BookingPolicy(
            grid=timedelta(minutes=self.grid_minutes),
            min_length=timedelta(minutes=self.min_length_minutes),
            max_length=timedelta(hours=self.max_length_hours),
            horizon=timedelta(days=self.horizon_days),
            max_concurrent_per_user=self.max_concurrent_per_user,
        )


# ---- pool file ----------------------------------------------------------------------------

_Strict = ConfigDict(extra="forbid")


def _bytes(v: Any) -> int:
    try:
        n = parse_bytes(v)
    except QuantityError as exc:
        raise ValueError(str(exc)) from exc
    if n <= 0:
        raise ValueError("must be more than 0")
    return n


def _millicores(v: Any) -> int:
    try:
        n = parse_millicores(v)
    except QuantityError as exc:
        raise ValueError(str(exc)) from exc
    if n <= 0:
        raise ValueError("must be more than 0")
    return n


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


class PoolFile(BaseModel):
    model_config = _Strict
    name: Name
    nodes: list[NodeFile] = Field(min_length=1)
    defaults: dict[str, DefaultsFile] = Field(default_factory=dict)


class PoolsFile(BaseModel):
    model_config = _Strict
    pools: list[PoolFile] = Field(min_length=1)


def _to_domain(f: PoolFile) -> dom.Pool:
    def num(v: object) -> int:
        assert isinstance(v, int)  # validators above turned every quantity into an int
        return v

    return dom.Pool(
        name=f.name,
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
    )


def _checked(parsed: PoolsFile, path: str) -> list[dom.Pool]:
    pools = [_to_domain(p) for p in parsed.pools]
    problems = dom.validate_pools(pools)
    if problems:
        raise FileError(path, [f"0: {p}" for p in problems])
    return pools


def load_pool_file(path: Path | None = None) -> list[dom.Pool]:
    """Pools from `path`, or the demo pool. Raises FileError naming file, line and field."""
    if path is None:
        text = resources.files("berth").joinpath("pools/demo.yaml").read_text(encoding="utf-8")
        return _checked(load_model_text(PoolsFile, text, "demo.yaml"), "demo.yaml")
    return _checked(load_model(PoolsFile, path), str(path))


def load_pool_text(text: str, path: str = "<string>") -> list[dom.Pool]:
    return _checked(load_model_text(PoolsFile, text, path), path)


def demo_pool_path() -> Path:
    return Path(str(resources.files("berth").joinpath("pools/demo.yaml")))
