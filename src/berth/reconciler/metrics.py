"""Prometheus metrics of the reconciler (the API's /metrics shows them when run in-process).

Every series carries the `cluster` it is about (the pool file's cluster name, `default` when
there is one): one process may drive several clusters, each in its own thread."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

CYCLE = Histogram(
    "berth_reconcile_cycle_seconds",
    "Duration of one reconcile cycle",
    ["cluster"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
ACTIONS = Counter("berth_reconcile_actions_total", "Actions applied, by kind", ["cluster", "kind"])
ERRORS = Counter(
    "berth_reconcile_errors_total", "Errors from the cluster, by kind", ["cluster", "kind"]
)
SESSIONS = Gauge("berth_sessions", "Sessions by phase", ["cluster", "phase"])
START_LAG = Histogram(
    "berth_session_start_lag_seconds",
    "From window start to workspace ready (ACTIVE)",
    ["cluster"],
    buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300, 600),
)
DRIFT_REPAIRS = Counter(
    "berth_drift_repairs_total",
    "Fence objects of ACTIVE sessions found changed (or deleted) and applied again, by kind",
    ["cluster", "kind"],
)
LEADER = Gauge(
    "berth_reconciler_leader",
    "1 while this process is the cluster's active reconciler",
    ["cluster"],
)
CLUSTER_UP = Gauge(
    "berth_cluster_up",
    "1 when the last reconcile cycle of the cluster went through, 0 when the cluster could not "
    "be reached (its sessions wait)",
    ["cluster"],
)
LAST_CYCLE = Gauge(
    "berth_reconcile_last_cycle_timestamp_seconds",
    "When the cluster's last reconcile cycle ended (whether it went through or not)",
    ["cluster"],
)
ENGINE_IMAGES = Gauge(
    "berth_engine_images",
    "Engine images on each pool's nodes, from the pre-pull pods' init container statuses: 1 "
    "for the image's current state (present, pulling, waiting, failed)",
    ["cluster", "pool", "node", "engine", "state"],
)
ACTIVITY_COLLECTIONS = Counter(
    "berth_activity_collections_total",
    "Activity samples asked of Prometheus, by outcome (ok, unavailable, failed, skipped: the "
    "previous one was still running)",
    ["outcome"],
)
ACTIVITY_QUERY = Histogram(
    "berth_activity_query_seconds",
    "The three Prometheus queries of one activity sample (every ACTIVE session at once)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
ACTIVITY_UNMEASURED = Gauge(
    "berth_activity_unmeasured_sessions",
    "ACTIVE sessions without a DCGM series in the last sample (never counted as idle)",
)
IDLE_ACTIONS = Counter(
    "berth_idle_actions_total",
    "Idle-policy actions: warn:idle, warn:no-show, clear, release:idle, release:no-show",
    ["action"],
)
