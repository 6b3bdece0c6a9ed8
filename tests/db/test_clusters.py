"""Pools on several clusters in the database: each cluster's reconciler reads only its own
pools' reservations and sessions (filtered in SQL), and a pool moved between clusters is
synced, audited and read back with its new cluster."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import select

from berth.config import load_pool_text
from berth.domain.policy import BookingPolicy
from berth.domain.reservation import Mode, Request
from berth.store import pools, reservations, sessions, users
from berth.store.crypto import SecretBox
from berth.store.db import Database
from berth.store.models import AuditEntry

GPU = "{index: 0, model: L40S, memory: 48Gi}"


def _pool_file(east_cluster: str = "east") -> str:
    pools_text = "".join(
        f"  - name: {name}\n    cluster: {cluster}\n    nodes:\n"
        f"      - {{name: {name}-n1, cpu: 8, memory: 64Gi, storage_class: local, gpus: [{GPU}]}}\n"
        for name, cluster in (("pa", "default"), ("pe", east_cluster), ("pw", "west"))
    )
    return (
        "clusters:\n  - {name: east, kubeconfig: /k/east}\n  - {name: west, kubeconfig: /k/west}\n"
        "pools:\n" + pools_text
    )


def _book(db: Database, pool: str, start: datetime, hours: float = 1) -> uuid.UUID:
    with db.transaction() as tx:
        who = users.principal(
            users.create(tx, f"u{uuid.uuid4().hex[:8]}", "pw-long-enough-1", "admin", actor="t")
        )
        req = Request(pool, start, start + timedelta(hours=hours), "gpu", 1, Mode.INFERENCE)
        return reservations.book(tx, who, req, BookingPolicy(), start - timedelta(minutes=1)).id


def test_each_cluster_reads_only_its_pools_work(db: Database, now: datetime) -> None:
    with db.transaction() as tx:
        pools.sync(tx, load_pool_text(_pool_file()))
    open_now = {p: _book(db, p, now) for p in ("pa", "pe", "pw")}
    later = {p: _book(db, p, now + timedelta(hours=3)) for p in ("pa", "pe", "pw")}
    box = SecretBox.ephemeral()
    with db.transaction() as tx:
        for p in ("pe", "pw"):
            sessions.start(tx, open_now[p], f"ns-{p}", now, box)
        sessions.mark_ready(tx, open_now["pw"], "https://w", now)
    with db.transaction() as tx:
        assert pools.clusters(tx) == ["default", "east", "west"]
        assert [p.name for p in pools.list_all(tx, cluster="east")] == ["pe"]
        assert pools.get(tx, "pw").cluster == "west"
        for name, pool in (("default", "pa"), ("east", "pe"), ("west", "pw")):
            work = sessions.pending_work(tx, now + timedelta(minutes=1), name)
            wanted = [] if name == "west" else [open_now[pool]]  # west's session is ready
            assert [w.reservation.reservation_id for w in work] == wanted, name
            assert sessions.next_event(tx, now + timedelta(minutes=1), name) == (
                now + timedelta(hours=1)
            )
        assert sessions.ready_namespaces(tx, "west") == {"ns-pw": open_now["pw"]}
        assert sessions.ready_namespaces(tx, "east") == {}
        assert sessions.phase_counts(tx, "east") == {"provisioning": 1}
        assert sessions.phase_counts(tx, "default") == {}
        assert sessions.phase_counts(tx) == {"provisioning": 1, "ready": 1}
        # garbage collection keeps a live reservation's objects whatever cluster they are on
        every = set(open_now.values()) | set(later.values())
        assert sessions.kept(tx, every) == every
        # no cluster argument: every cluster's work, as before clusters had names
        assert len(sessions.pending_work(tx, now + timedelta(minutes=1))) == 2


def test_a_pool_moved_to_another_cluster_is_synced_audited_and_read_again(
    db: Database, now: datetime
) -> None:
    with db.transaction() as tx:
        pools.sync(tx, load_pool_text(_pool_file()))
        assert pools.get(tx, "pe").cluster == "east"
    rid = _book(db, "pe", now)
    with db.transaction() as tx:
        assert pools.sync(tx, load_pool_text(_pool_file("west"))) == ["pe"]
    with db.transaction() as tx:
        assert pools.get(tx, "pe").cluster == "west"  # the cached parse was dropped
        assert [w.reservation.reservation_id for w in sessions.pending_work(tx, now, "west")] == [
            rid
        ]
        assert sessions.pending_work(tx, now, "east") == []
        entry = tx.scalars(
            select(AuditEntry).where(AuditEntry.target == "pool:pe").order_by(AuditEntry.id.desc())
        ).first()
        assert entry is not None
        assert entry.details["cluster"] == {"from": "east", "to": "west"}
