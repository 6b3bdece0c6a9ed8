"""A reservation turned into what its session namespace must hold: names and numbers only.

The manifest builders in `berth.kube.manifests` turn a SessionSpec into Kubernetes objects; the
reconciler builds the spec from the database. Keeping the arithmetic here (slots = units x
replicas, a zero quota for every other GPU kind, the workspace's share) makes it testable
without Kubernetes and keeps the builders free of policy.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from berth.domain.catalog import Catalog
from berth.domain.identity import cluster_user
from berth.domain.pool import WHOLE_GPU, Pool, kube_resource
from berth.domain.reservation import Mode, Reserved, Status

NAMESPACE_PREFIX = "berth-"
MANAGED_BY = ("app.kubernetes.io/managed-by", "berth")
LABEL_RESERVATION = "berth.io/reservation"
LABEL_OWNER = "berth.io/owner"
LABEL_POOL = "berth.io/pool"
# Which Berth installation made an object: two installations on one cluster never touch each
# other's. Objects of a version before the label existed belong to the default installation.
LABEL_INSTALLATION = "berth.io/installation"
DEFAULT_INSTALLATION = "default"
GIB = 2**30
CACHE_STORAGE_CLASS = "berth-cache"


@dataclass(frozen=True)
class SessionConfig:
    """Deployment-wide settings of every session (from Settings)."""

    image: str = "docker.io/codercom/code-server:4.139.1"
    disk_bytes: int = 600 * GIB  # the session's one disk: home, data and models in it
    extra_pvcs: int = 5  # PVCs a user may add beside the session's disk
    max_pods: int = 50
    ingress_domain: str = "berth.localhost"  # workspace URL: https://<namespace>.<domain>/
    ingress_class: str | None = None
    ingress_namespace: str = "ingress-nginx"  # OpenShift: openshift-ingress
    platform_namespace: str = "berth-system"
    installation: str = DEFAULT_INSTALLATION  # the berth.io/installation label of its objects
    http_proxy: str = ""
    https_proxy: str = ""
    no_proxy: str = ".svc,.cluster.local,localhost,127.0.0.1"
    # the artifact cache's StorageClass, provisioned on each node by its cache agent
    cache_storage_class: str = CACHE_STORAGE_CLASS
    # Pod and service CIDRs, excluded from the "outside the cluster" egress rule: some CNIs
    # match pod addresses against ipBlocks too.
    cluster_networks: tuple[str, ...] = ()
    # what the API server puts before an OIDC user's claim (its --oidc-username-prefix), so
    # the RoleBinding names the user the cluster authenticates (BERTH_OIDC_CLUSTER_USER_PREFIX)
    oidc_user_prefix: str = "oidc:"


@dataclass(frozen=True)
class Quota:
    cpu_millicores: int
    memory_bytes: int
    storage_bytes: int
    pvcs: int
    pods: int
    gpu: dict[str, int] = field(default_factory=dict)  # extended resource -> slots (0 = denied)


@dataclass(frozen=True)
class Workspace:
    cpu_millicores: int
    memory_bytes: int
    gpu_resource: str | None  # one slot of the booked kind in interactive mode, else None


@dataclass(frozen=True)
class SessionSpec:
    reservation_id: str
    namespace: str
    owner: str  # Berth's name for the owner
    owner_user: str  # the Kubernetes user the RoleBinding names (identity.cluster_user)
    pool: str
    mode: Mode
    start: datetime
    end: datetime
    labels: dict[str, str]
    nodes: tuple[str, ...]  # pods are pinned to the pool's nodes
    storage_class: str
    quota: Quota
    workspace: Workspace
    config: SessionConfig
    # the runtime plane: the booked GPU resource (one slot per model server) and the catalog the
    # session's `berth-runtime` ConfigMap describes (docs/runtime.md)
    gpu_resource: str = ""
    catalog: Catalog = field(default_factory=Catalog)

    @property
    def url(self) -> str:
        return workspace_url(self.namespace, self.config)


def workspace_url(namespace: str, cfg: SessionConfig) -> str:
    """Where the Ingress (or Route) of a session's workspace answers."""
    return f"https://{namespace}.{cfg.ingress_domain}/"


def installation_of(labels: Mapping[str, str]) -> str:
    """The installation an object belongs to; unlabelled (older) objects are the default's."""
    return labels.get(LABEL_INSTALLATION, DEFAULT_INSTALLATION)


def namespace_name(reservation_id: uuid.UUID) -> str:
    """`berth-<12 hex>`: short enough to read, long enough that ids never collide in practice."""
    return f"{NAMESPACE_PREFIX}{reservation_id.hex[:12]}"


def label_value(text: str) -> str:
    """A valid label value (<= 63 chars of [A-Za-z0-9._-], alphanumeric at both ends)."""
    cleaned = "".join(c if c.isalnum() or c in "._-" else "-" for c in text)[:63]
    return cleaned.strip("._-") or "x"


def known_gpu_resources(pools: list[Pool]) -> set[str]:
    """Every GPU resource a quota must mention: all pools' kinds, and whole GPUs always."""
    found = {kube_resource(WHOLE_GPU)}
    for pool in pools:
        found |= {k.resource for k in pool.kinds().values()}
    return found


def build(
    r: Reserved,
    pool: Pool,
    cfg: SessionConfig,
    all_gpu_resources: set[str],
    catalog: Catalog | None = None,
) -> SessionSpec:
    kind = pool.kinds()[r.gpu_kind]
    slots = r.gpu_count * kind.replicas
    gpu_quota = {res: 0 for res in all_gpu_resources}
    gpu_quota[kind.resource] = slots
    # The IDE is light: a quarter of the booking, at most 4 cores and 16Gi, leaves the rest for
    # the user's own pods (a model server, a training job).
    ws_cpu = max(250, min(r.cpu_millicores // 4, 4000))
    ws_mem = max(GIB // 2, min(r.memory_bytes // 4, 16 * GIB))
    storage_classes = {n.storage_class for n in pool.nodes}
    return SessionSpec(
        reservation_id=str(r.reservation_id),
        namespace=namespace_name(r.reservation_id),
        owner=r.owner,
        owner_user=cluster_user(
            r.owner_provider, r.owner, r.owner_cluster_name, cfg.oidc_user_prefix
        ),
        pool=r.pool,
        mode=r.mode,
        start=r.start,
        end=r.end,
        labels={
            MANAGED_BY[0]: MANAGED_BY[1],
            LABEL_RESERVATION: str(r.reservation_id),
            LABEL_INSTALLATION: cfg.installation,
            LABEL_OWNER: label_value(r.owner),
            LABEL_POOL: label_value(r.pool),
        },
        nodes=tuple(n.name for n in pool.nodes),
        storage_class=sorted(storage_classes)[0],
        quota=Quota(
            cpu_millicores=r.cpu_millicores,
            memory_bytes=r.memory_bytes,
            storage_bytes=cfg.disk_bytes,
            pvcs=1 + cfg.extra_pvcs,
            pods=cfg.max_pods,
            gpu=gpu_quota,
        ),
        workspace=Workspace(
            cpu_millicores=ws_cpu,
            memory_bytes=ws_mem,
            gpu_resource=kind.resource if r.mode is Mode.INTERACTIVE else None,
        ),
        config=cfg,
        gpu_resource=kind.resource,
        catalog=catalog if catalog is not None else Catalog(),
    )


@dataclass(frozen=True)
class SessionState:
    """Where a reservation's session stands, as the reconciler last recorded it."""

    namespace: str
    phase: str  # provisioning | ready | tearing_down | gone | failed
    step: str | None  # the last provisioning step applied
    attempts: int  # failed attempts that count towards the limit
    next_attempt_at: datetime | None  # backing off until; while waiting: the wait's deadline
    updated_at: datetime
    started_at: datetime
    last_error: str | None = None
    failing_since: datetime | None = None  # the cluster has answered 5xx for this session since


@dataclass(frozen=True)
class Work:
    """A reservation the reconciler must look at, with its session so far (if any)."""

    reservation: Reserved
    status: Status
    session: SessionState | None

    @property
    def namespace(self) -> str:
        return namespace_name(self.reservation.reservation_id)
