"""`berth up --sim` on a machine without a built sim: the portal first, the control plane behind.

A cold build of the sim compiles Kubernetes for ten minutes or more. Nobody should stare at
three lines for that long: the portal (database, UI, booking) is served at once, and this
thread builds the sim with progress — on the terminal every 30 s as a text bar, and in the
database as the heartbeat `control-plane`, which `GET /api/v1/status` and the UI show as
"building 42%, ~6 min left" — then starts it, then runs the reconciler against it. Bookings made
meanwhile wait in the database, as they would for any reconciler that is down, and open once
it joins.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import typer

from berth.cli import clusters
from berth.config import Settings
from berth.reconciler.loop import Reconciler
from berth.sim import build as sim_build
from berth.sim import cluster as sim_cluster
from berth.sim import versions
from berth.sim.progress import Snapshot
from berth.store import heartbeats
from berth.store.db import Database

COMPONENT = "control-plane"  # the heartbeat's name (berth.api.routes.status reads it)
BEAT_SECONDS = 5.0
LOG_SECONDS = 30.0


def forget(db: Database) -> None:
    with db.transaction() as tx:
        heartbeats.forget(tx, COMPONENT)


class ControlPlane:
    """Builds and starts the sim in a thread, then runs the reconciler in it until `stop`."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        stop: threading.Event,
        make_reconciler: Callable[[clusters.Found], Reconciler],
    ) -> None:
        self.db = db
        self.settings = settings
        self.stop = stop
        self.make_reconciler = make_reconciler
        self.started_sim = False
        self.found: clusters.Found | None = None
        self._last_beat = 0.0
        self._last_log = 0.0

    def beat(self, state: str, **details: Any) -> None:
        with self.db.transaction() as tx:
            heartbeats.beat(tx, COMPONENT, datetime.now(UTC), {"state": state, **details})

    def _on_progress(self, snap: Snapshot) -> None:
        now = time.monotonic()
        if now - self._last_beat >= BEAT_SECONDS or snap.fraction >= 1.0:
            self._last_beat = now
            self.beat(
                "building",
                step=snap.step,
                percent=round(100 * snap.fraction),
                elapsed_seconds=round(snap.elapsed),
                remaining_seconds=round(snap.remaining),
            )
        if now - self._last_log >= LOG_SECONDS:
            self._last_log = now
            typer.echo(f"control plane: {snap.line()}")

    def run(self) -> None:
        try:
            self._bring_up()
        except Exception as exc:  # shown in the portal's status and here; the portal stays up
            self.beat("failed", error=str(exc)[-2000:])
            typer.secho(f"control plane did not come up: {exc}", err=True, fg="red")
            return
        if self.found is not None and not self.stop.is_set():
            self.make_reconciler(self.found).run(self.stop)

    def _bring_up(self) -> None:
        layout = versions.cache_layout()
        if sim_build.pending(layout):
            typer.echo(
                "control plane: building the local Kubernetes (once; cached under "
                f"{versions.cache_root()}); the portal is already up"
            )
            sim_build.tracked_build(layout, self._on_progress)
        if self.stop.is_set():
            return
        self.beat("starting")
        typer.echo("control plane: starting berth sim")
        sim_cluster.up(self.settings.pool_file, 1)
        self.started_sim = True
        self.found = clusters.find(self.settings)
        if self.found is None:
            raise RuntimeError("berth sim started but does not answer")
        self.beat("running", source=self.found.source)
        typer.echo(f"reconciler: driving {self.found.source}")

    def release(self) -> None:
        if self.found is not None:
            self.found.cluster.close()
        if self.started_sim:
            sim_cluster.down()
