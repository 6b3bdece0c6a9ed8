"""The `berth` command. Each sub-command is a thin shell over the packages it names."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated, Literal

import typer
import yaml

from berth import __version__
from berth.catalog import load_catalog_file
from berth.cli import clusters, first_run
from berth.cli.cache import app as cache_app
from berth.cli.render import app as render_app
from berth.cli.usage import app as usage_app
from berth.config import Settings, check_pool_file, check_pool_layout, load_pool_file
from berth.domain.pool import DEFAULT_CLUSTER, ClusterRef, Pool
from berth.domain.quantity import format_bytes
from berth.images.cli import app as image_app
from berth.install import gpu_operator, mirror
from berth.kube.manifests.prepull import pinned_image_set
from berth.reconciler.activity import ActivityCollector
from berth.reconciler.executor import WORKERS as EXECUTOR_WORKERS
from berth.reconciler.loop import Cadence, Reconciler
from berth.reconciler.plan import Limits
from berth.reconciler.prometheus import Prometheus
from berth.sim.cli import app as sim_app
from berth.store import bootstrap
from berth.store.db import Database, Opened
from berth.store.locks import reconciler_key
from berth.tokenomics.cli import app as tokenomics_app
from berth.yamlfile import FileError

if TYPE_CHECKING:
    import uvicorn

app = typer.Typer(
    name="berth",
    help="Berth: book GPU capacity on a calendar; get an isolated Kubernetes workspace.",
    no_args_is_help=True,
    add_completion=False,
)
user_app = typer.Typer(help="Manage users.", no_args_is_help=True)
token_app = typer.Typer(help="Manage API tokens.", no_args_is_help=True)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def main(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print Berth's version."
        ),
    ] = False,
) -> None:
    """Berth: book GPU capacity on a calendar; get an isolated Kubernetes workspace."""


app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
app.add_typer(render_app, name="render")
app.add_typer(tokenomics_app, name="tokenomics")
app.add_typer(sim_app, name="sim")
app.add_typer(cache_app, name="cache")
app.add_typer(usage_app, name="usage")
app.add_typer(image_app, name="image")


def fail(message: str, code: int = 2) -> typer.Exit:
    typer.secho(message, err=True, fg=typer.colors.RED)
    return typer.Exit(code)


@contextmanager
def database(
    settings: Settings, *, migrate: bool = True, pool_size: int | None = None
) -> Iterator[Database]:
    """The configured database (starting the embedded one if no URL is set), migrated;
    `pool_size` connections kept open (default BERTH_DB_POOL_SIZE), twice that in a burst."""
    try:
        pool_list = load_pool_file(settings.pool_file)
    except FileError as exc:
        raise fail(f"pool file is not usable:\n{exc}") from exc
    try:
        catalog = load_catalog_file(settings.catalog_file)
    except FileError as exc:
        raise fail(f"catalog file is not usable:\n{exc}") from exc
    opened = Opened(settings.database_url, settings.data_dir)
    db = Database(opened.url, pool_size=pool_size or settings.db_pool_size)
    try:
        if migrate:
            bootstrap.prepare(db, pool_list, settings.secret_box(), catalog)
        yield db
    finally:
        db.dispose()
        opened.close()


@app.command()
def version() -> None:
    """Print Berth's version."""
    from berth import __version__

    typer.echo(__version__)


@app.command()
def migrate() -> None:
    """Create or upgrade the database schema and sync the pool file into it."""
    settings = Settings()
    with database(settings):
        typer.echo("database is at the newest schema; pools synced")


def _upkeep_loop(db: Database, settings: Settings, stop: threading.Event) -> None:
    """Hourly database upkeep (tokens, audit retention) while `berth up` runs."""
    from berth.store import maintenance

    retention = timedelta(days=settings.audit_retention_days)
    while not stop.is_set():
        try:
            maintenance.run(db, datetime.now(UTC), retention)
        except Exception as exc:  # upkeep must never take the portal down; retry next hour
            typer.secho(f"database upkeep failed: {exc}", err=True, fg=typer.colors.YELLOW)
        stop.wait(3600)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def _serve(
    settings: Settings,
    db: Database,
    host: str,
    port: int,
    workers: int = 1,
    on_exit: Callable[[], None] | None = None,
) -> None:
    """Serve the API and UI until Ctrl-C or SIGTERM. `on_exit` (one worker only) runs as soon
    as the signal arrives, while the server still answers: `berth up` stops its demo cache
    agent then, so the agent's last report does not meet a closed port."""
    import uvicorn

    from berth.api.app import create_app

    # uvicorn re-raises SIGTERM after its graceful shutdown; as SystemExit it unwinds our
    # `finally` blocks, so the embedded PostgreSQL is stopped instead of orphaned.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    # The app believes X-Forwarded-* only from BERTH_FORWARDED_ALLOW_IPS (berth.api.proxy);
    # uvicorn's own handling would believe 127.0.0.1 (or $FORWARDED_ALLOW_IPS) before it.
    options: dict[str, object] = {
        "host": host,
        "port": port,
        "log_level": "info",
        "proxy_headers": False,
        "server_header": False,
    }
    if workers <= 1:
        config = uvicorn.Config(create_app(settings, db), **options)  # type: ignore[arg-type]
        _server(config, on_exit).run()
        return
    _serve_workers(db, workers, options)


def _server(config: uvicorn.Config, on_exit: Callable[[], None] | None) -> uvicorn.Server:
    """uvicorn's server, calling `on_exit` when the first stop signal arrives."""
    import uvicorn

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            if on_exit is not None and not self.should_exit:
                on_exit()
            super().handle_exit(sig, frame)

    return Server(config)


def _serve_workers(db: Database, workers: int, options: dict[str, object]) -> None:
    """N uvicorn worker processes on one socket, each building its app with `worker_app`.

    This process has migrated the schema and synced the pools (once, before any worker
    starts) and keeps the embedded PostgreSQL, if it started one, until the workers are gone;
    the workers only connect, by the URL put in their environment. Bookings from several
    processes are safe: every check runs under the database's advisory locks.
    """
    import tempfile

    import uvicorn

    from berth.api.app import WORKER_DB_POOL

    settings = Settings()
    share = max(2, -(-settings.db_pool_size // workers))
    db.dispose()  # the workers open their own connections; this process needs none meanwhile
    with tempfile.TemporaryDirectory(prefix="berth-metrics-") as metrics_dir:
        worker_env = {
            "BERTH_DATABASE_URL": db.url,
            WORKER_DB_POOL: str(share),
            "PROMETHEUS_MULTIPROC_DIR": metrics_dir,
        }
        saved = {name: os.environ.get(name) for name in worker_env}
        os.environ.update(worker_env)  # the workers inherit the environment
        try:
            uvicorn.run(
                "berth.api.app:worker_app",
                factory=True,
                workers=workers,
                # uvicorn kills a worker that does not answer its parent's ping within this
                # many seconds, and starts another; its default of 5 is shorter than starting
                # Python and importing the app takes on a busy machine (2 cores shared with a
                # build), where the workers were killed in a loop and never served
                timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
                **options,  # type: ignore[arg-type]
            )
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


WORKER_HEALTHCHECK_SECONDS = 30


def default_workers() -> int:
    """Worker processes for `berth serve`: the CPUs this process may use (its affinity, and a
    cgroup CPU limit if one is set, as in a pod), at most 8."""
    usable = len(os.sched_getaffinity(0))
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
        if quota != "max":
            usable = min(usable, max(1, -(-int(quota) // int(period))))
    except (OSError, ValueError):
        pass
    return max(1, min(usable, 8))


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Worker processes (default: the usable CPUs, at most 8); they share "
            "BERTH_DB_POOL_SIZE connections",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve the API (and the UI, if built) on HOST:PORT."""
    settings = Settings()
    with database(settings) as db:
        _serve(settings, db, host, port, workers or default_workers())


@app.command()
def up(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    sim: Annotated[
        bool,
        typer.Option(
            "--sim/--no-sim",
            help="With no reachable cluster, start `berth sim` (building it if needed).",
        ),
    ] = False,
) -> None:
    """Start the whole platform: database, pools, admin, API + UI, and the reconciler.

    With --sim and no reachable cluster, the portal is served at once while the local control
    plane is built (the first time; progress on the terminal and in the portal's status) and
    started behind it; the reconciler joins when it is up.
    """
    settings = Settings()
    where = settings.database_url or f"embedded PostgreSQL in {settings.data_dir / 'pgdata'}"
    typer.echo(f"database: {where}")
    try:
        layout = check_pool_layout(settings.pool_file)
    except FileError as exc:
        raise fail(f"pool file is not usable:\n{exc}") from exc
    with database(settings, pool_size=_db_connections(settings, len(layout.clusters))) as db:
        _ensure_admin(db, settings)
        stop = threading.Event()
        others = _other_clusters(db, settings, stop)
        found = _default_cluster(layout.clusters[DEFAULT_CLUSTER], settings)
        plane: first_run.ControlPlane | None = None
        if found is None and sim:
            plane = first_run.ControlPlane(
                db, settings, stop, lambda f: _reconciler(db, settings, f)
            )
            work = threading.Thread(target=plane.run, name="control-plane")
        else:
            first_run.forget(db)  # a last run's "building" or "failed" would mislead
            work = _background_work(db, settings, found, stop)
        notify_thread = _notify_thread(db, settings, stop)
        work.start()
        for thread, _ in others:
            thread.start()
        notify_thread.start()
        staging = start_demo_staging(db, settings, f"http://{host}:{port}") if sim else []
        typer.echo(f"Berth is at http://{host}:{port}/  (API docs: /api/docs)")
        try:
            # the demo cache agent stops while the server still answers its last report
            _serve(settings, db, host, port, on_exit=lambda: _signal_processes(staging))
        finally:
            stop.set()
            _stop_processes(staging)
            work.join(30)
            for thread, other in others:
                thread.join(30)
                other.cluster.close()
            if plane is not None:
                plane.release()
            elif found is not None:
                found.cluster.close()


def _default_cluster(ref: ClusterRef, settings: Settings) -> clusters.Found | None:
    """`berth up`'s default cluster: the pool file's kubeconfig for it if it names one, else the
    one Berth finds by itself (None: none answers). A kubeconfig it cannot use is named on the
    terminal, and the portal serves on without that cluster."""
    try:
        return clusters.connect(ref, settings)
    except clusters.ClusterConfigError as exc:
        typer.secho(f"reconciler: {exc}; its pools' sessions will not start", fg="yellow")
        return None


def _other_clusters(
    db: Database, settings: Settings, stop: threading.Event
) -> list[tuple[threading.Thread, clusters.Found]]:
    """`berth up`: a reconciler thread (not started) for each cluster of the pool file other
    than `default`, which is driven as before. One that cannot be reached as configured (its
    kubeconfig missing) is named on the terminal and left out: the portal still serves, and
    /status lists that cluster as never seen."""
    layout = check_pool_layout(settings.pool_file)  # usable: `database` has loaded it
    out = []
    for name, ref in layout.clusters.items():
        if name == DEFAULT_CLUSTER:
            continue
        try:
            one = clusters.connect(ref, settings)
        except clusters.ClusterConfigError as exc:
            typer.secho(f"reconciler: {exc}; its pools' sessions will not start", fg="yellow")
            continue
        assert one is not None  # a named cluster always has a kubeconfig
        typer.echo(f"reconciler: driving {one.source}")
        rec = _reconciler(db, settings, one, name, with_activity=False)  # default's runs it
        out.append((threading.Thread(target=rec.run, args=(stop,), name=f"reconcile-{name}"), one))
    return out


def _db_connections(settings: Settings, count: int) -> int:
    """Connections to keep open for `count` reconcilers: each may hold its leader connection
    and one per provisioning worker at once (the pool allows three times this in a burst)."""
    return max(settings.db_pool_size, count * (EXECUTOR_WORKERS + 2) // 3 + 1)


ADMIN_PASSWORD_FILE = "admin-password"  # noqa: S105 (a file name, not a password)
DEMO_SOURCE_PORT = 8089  # where the demo catalog's sources point (berth/pools/catalog.yaml)
DEMO_CACHE_CAPACITY = "4Gi"  # each sim node's cache budget on `make run`
# the demo source's pace per response, so "staging N%" can be watched: ~25 s for the 96 MiB file
DEMO_SOURCE_RATE = 4 * 2**20


def demo_staging_commands(
    berth: list[str], data_dir: Path, api: str, nodes: list[str]
) -> list[list[str]]:
    """The two processes that make staging watchable on `make run`: the demo artifact source
    (the demo catalog's synthetic bytes on loopback) and one cache agent serving every sim node,
    each node with its own root and credential file (`{node}` is filled in by the agent). The
    sim already runs the agent's volume provisioner, so this one only stages."""
    node_args = [arg for n in nodes for arg in ("--node", n)]
    return [
        [
            *berth,
            "cache",
            "demo-source",
            "--port",
            str(DEMO_SOURCE_PORT),
            "--rate",
            str(DEMO_SOURCE_RATE),
        ],
        [
            *berth,
            "cache-agent",
            *node_args,
            "--root",
            str(data_dir / "cache-nodes" / "{node}"),
            "--api",
            api,
            "--token-file",
            str(data_dir / "cache-tokens" / "{node}.token"),
            "--capacity",
            DEMO_CACHE_CAPACITY,
            "--no-provision",
            "--no-bind-mount",
        ],
    ]


Spawn = Callable[[list[str]], "subprocess.Popen[bytes]"]


def start_demo_staging(
    db: Database, settings: Settings, api: str, spawn: Spawn = subprocess.Popen
) -> list[subprocess.Popen[bytes]]:
    """On `berth up --sim` with the demo catalog: a credential per pool node (written 0600 under
    the data directory, the old one revoked), then the demo source and a cache agent for the
    sim's nodes. Returns the processes to stop at exit; nothing when the catalog is not the
    demo's."""
    if settings.catalog_file is not None:
        return []
    from berth.store import cache

    now = datetime.now(UTC)
    tokens_dir = settings.data_dir / "cache-tokens"
    with db.transaction() as tx:
        nodes = sorted(cache.node_pools(tx))
        for node in nodes:
            secret, _ = cache.issue_credential(tx, node, now, actor="berth up")
            _write_private(tokens_dir / f"{node}.token", secret + "\n")
    beside = Path(sys.executable).with_name("berth")
    berth = [str(beside)] if beside.exists() else ["berth"]
    processes = [
        spawn(argv) for argv in demo_staging_commands(berth, settings.data_dir, api, nodes)
    ]
    typer.echo(
        f"staging: demo source on 127.0.0.1:{DEMO_SOURCE_PORT}, a cache agent for "
        f"{', '.join(nodes)} (berth cache status)"
    )
    return processes


def _signal_processes(processes: list[subprocess.Popen[bytes]]) -> None:
    for p in processes:
        if p.poll() is None:
            p.terminate()


def _stop_processes(processes: list[subprocess.Popen[bytes]]) -> None:
    _signal_processes(processes)
    for p in processes:
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()


def _ensure_admin(db: Database, settings: Settings) -> None:
    """Create the admin on first start and hand over its password, once.

    On a terminal it is printed. Otherwise (a service's log, a pipe) it is written to a file
    only its owner can read, in the data directory, and only the path is printed: logs are
    kept and shipped where a password must not go.
    """
    password = bootstrap.ensure_admin(db)
    if not password:
        return
    if sys.stdout.isatty():
        typer.secho(
            f"created user 'admin' with password: {password}  (shown once; keep it)",
            fg=typer.colors.GREEN,
        )
        return
    path = _write_private(settings.data_dir / ADMIN_PASSWORD_FILE, password + "\n")
    typer.secho(
        f"created user 'admin'; its password is in {path} (mode 0600): read it, then delete it",
        fg=typer.colors.GREEN,
    )


def _write_private(path: Path, text: str) -> Path:
    """Write `text` to `path` with mode 0600 from the start (never readable by others)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)
    return path


def _background_work(
    db: Database, settings: Settings, found: clusters.Found | None, stop: threading.Event
) -> threading.Thread:
    """The reconciler when a cluster answers; else a plain loop for the upkeep it would do."""
    if found is not None:
        typer.echo(f"reconciler: driving {found.source}")
        return threading.Thread(target=_reconciler(db, settings, found).run, args=(stop,))
    typer.secho(
        "reconciler: no reachable cluster; sessions will not start. "
        "Run `berth sim up` (a local control plane) or set BERTH_KUBECONFIG.",
        fg=typer.colors.YELLOW,
    )
    return threading.Thread(target=_upkeep_loop, args=(db, settings, stop), daemon=True)


def _reconciler(
    db: Database,
    settings: Settings,
    found: clusters.Found,
    name: str = DEFAULT_CLUSTER,
    *,
    with_activity: bool = True,
) -> Reconciler:
    """A cluster's reconciler; `with_activity`: it also runs the activity collector and idle
    policy, which cover every cluster's sessions from one Prometheus (one per process)."""
    return Reconciler(
        db,
        found.cluster,
        settings.session_config(),
        limits=Limits(
            max_attempts=settings.max_attempts,
            ready_timeout=timedelta(seconds=settings.ready_timeout),
            server_error_budget=timedelta(seconds=settings.server_error_budget),
        ),
        cadence=Cadence(
            interval=timedelta(seconds=settings.reconcile_interval),
            drift_interval=timedelta(seconds=settings.drift_interval),
            audit_retention=timedelta(days=settings.audit_retention_days),
        ),
        source=found.source,
        box=settings.secret_box(),
        cluster_name=name,
        activity=_activity(db, settings) if with_activity else None,
    )


def _connect_clusters(settings: Settings, wanted: list[str] | None) -> dict[str, clusters.Found]:
    """A client for each cluster to drive: those named (`--cluster`), else every cluster of
    the pool file (the declared ones, and `default` if a pool lives on it). Exits 2 on an
    unknown name, a missing kubeconfig, or a `default` cluster that cannot be found."""
    try:
        layout = check_pool_layout(settings.pool_file)
    except FileError as exc:
        raise fail(f"pool file is not usable:\n{exc}") from exc
    declared = [c for c in layout.clusters if c != DEFAULT_CLUSTER or c in layout.used()]
    names = list(dict.fromkeys(wanted)) if wanted else declared
    unknown = [n for n in names if n not in layout.clusters]
    if unknown:
        known = ", ".join(layout.clusters)
        raise fail(f"--cluster {', '.join(unknown)}: not in the pool file (clusters: {known})")
    keys: dict[int, str] = {}
    for name in layout.clusters:  # a shared leader lock would leave one cluster undriven
        other = keys.setdefault(reconciler_key(name), name)
        if other != name:
            raise fail(f"clusters {other!r} and {name!r} hash to one leader lock: rename one")
    found: dict[str, clusters.Found] = {}
    try:
        for name in names:
            one = clusters.connect(layout.clusters[name], settings)
            if one is None:
                raise clusters.ClusterConfigError(
                    f"cluster {name!r}: no reachable cluster: run `berth sim up`, set "
                    "BERTH_KUBECONFIG, or give it a kubeconfig in the pool file"
                )
            found[name] = one
    except clusters.ClusterConfigError as exc:
        for one in found.values():
            one.cluster.close()
        raise fail(str(exc)) from exc
    return found


def _activity(db: Database, settings: Settings) -> ActivityCollector:
    """The activity collector and idle policy; without BERTH_PROMETHEUS_URL it does nothing
    and says so in /status."""
    prometheus = None
    if settings.prometheus_url:
        prometheus = Prometheus(
            settings.prometheus_url,
            settings.prometheus_token_file,
            settings.prometheus_ca_file,
            settings.prometheus_timeout,
        )
    return ActivityCollector(db, prometheus, timedelta(seconds=settings.activity_interval))


@app.command()
def reconcile(
    once: Annotated[
        bool, typer.Option("--once", help="Run one cycle and exit (deletes nothing without --gc)")
    ] = False,
    gc: Annotated[
        bool,
        typer.Option(
            "--gc", help="With --once: also collect garbage (delete what no reservation keeps)"
        ),
    ] = False,
    metrics_port: Annotated[
        int, typer.Option(help="Serve Prometheus metrics on this port (0: off)")
    ] = 9108,
    metrics_address: Annotated[
        str,
        typer.Option(
            help="Address the metrics listen on (0.0.0.0 in a pod, for Prometheus to scrape)"
        ),
    ] = "127.0.0.1",
    cluster: Annotated[
        list[str] | None,
        typer.Option(
            "--cluster",
            help="Drive only this cluster of the pool file (repeatable) [default: every "
            "cluster of the pool file]",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Run the reconciler: converge the clusters to the database.

    Each cluster is driven by a thread of its own, with its own leader lock (one leader per
    cluster at a time, others stand by), its own Kubernetes client and only its pools'
    sessions: a cluster that is down delays only those (docs/scale.md)."""
    settings = Settings()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(threadName)s %(name)s %(message)s"
    )
    found = _connect_clusters(settings, cluster)
    for one in found.values():
        typer.echo(f"reconciler: driving {one.source}", err=True)
    try:
        with database(settings, pool_size=_db_connections(settings, len(found))) as db:
            recs = {
                name: _reconciler(db, settings, one, name, with_activity=i == 0)
                for i, (name, one) in enumerate(found.items())
            }
            if once:
                for name, rec in recs.items():
                    rec.activity = None  # no sample: its thread would die with the process
                    result = rec.cycle(gc=gc)
                    prefix = f"{name}: " if len(recs) > 1 else ""
                    for action in result.actions:
                        typer.echo(f"{prefix}{type(action).__name__}: {action}")
                return
            if metrics_port:
                from prometheus_client import start_http_server

                start_http_server(metrics_port, addr=metrics_address)
            stop = threading.Event()
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            _run_reconcilers(recs, stop)
    finally:
        for one in found.values():
            one.cluster.close()


def _run_reconcilers(recs: dict[str, Reconciler], stop: threading.Event) -> None:
    """One thread per cluster until `stop` (SIGTERM) or Ctrl-C. A thread that ends by itself
    (an unexpected error, logged) stops the others and the process exits 1, so whatever runs it
    (a Deployment) starts it again rather than leaving one cluster undriven."""
    threads = {
        name: threading.Thread(target=rec.run, args=(stop,), name=f"reconcile-{name}")
        for name, rec in recs.items()
    }
    for t in threads.values():
        t.start()
    try:
        while all(t.is_alive() for t in threads.values()) and not stop.is_set():
            stop.wait(1.0)
    except KeyboardInterrupt:
        stop.set()
    died = [name for name, t in threads.items() if not t.is_alive() and not stop.is_set()]
    stop.set()
    for t in threads.values():
        t.join()
    if died:
        raise fail(f"the reconciler of cluster {', '.join(died)} stopped (see the log)", 1)


@app.command()
def notify(
    once: Annotated[
        bool, typer.Option("--once", help="One pass (reminder sweep, then what is due) and exit")
    ] = False,
) -> None:
    """Deliver notifications: e-mail and webhooks with retries, and the window-ending
    reminders. Any number may run at once (deliveries are claimed with SKIP LOCKED)."""
    from berth.notify.loop import Deliverer

    settings = Settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with database(settings) as db:
        try:
            deliverer = Deliverer.from_settings(db, settings)
        except ValueError as exc:
            raise fail(f"cannot deliver notifications: {exc}") from exc
        if once:
            reminders = deliverer.sweep()
            attempted = deliverer.drain()
            typer.echo(f"reminders recorded: {reminders}; deliveries attempted: {attempted}")
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            deliverer.run(stop, settings.notify_interval)
        except KeyboardInterrupt:
            stop.set()


def _notify_thread(db: Database, settings: Settings, stop: threading.Event) -> threading.Thread:
    """`berth up`'s notification delivery: a thread of its own, beside the reconciler."""
    from berth.notify.loop import Deliverer

    try:
        deliverer = Deliverer.from_settings(db, settings)
    except ValueError as exc:
        raise fail(f"cannot deliver notifications: {exc}") from exc
    return threading.Thread(
        target=deliverer.run, args=(stop, settings.notify_interval), name="notify", daemon=True
    )


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="Username (lower-case)")],
    admin: Annotated[bool, typer.Option("--admin", help="Give the admin role")] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input")
    ] = False,
) -> None:
    """Add a user. Without --password-stdin a password is generated and printed once."""
    import secrets

    from berth.store import users
    from berth.store.errors import StoreError

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
        generated = False
    else:
        password, generated = secrets.token_urlsafe(12), True
    settings = Settings()
    with database(settings) as db:
        try:
            with db.transaction() as tx:
                users.create(tx, name, password, "admin" if admin else "user", actor="cli")
        except StoreError as exc:
            raise fail(f"cannot add user: {exc.detail}") from exc
    typer.echo(f"added {'admin' if admin else 'user'} {name!r}")
    if generated:
        typer.echo(f"password: {password}  (shown once)")


@token_app.command("create")
def token_create(
    user: Annotated[str, typer.Option("--user", help="Whose token")] = "admin",
    name: Annotated[str, typer.Option("--name", help="A label to recognise it by")] = "cli",
    days: Annotated[int, typer.Option("--days", min=1, help="Lifetime in days")] = 90,
) -> None:
    """Create an API token for USER and print it (shown once)."""
    from berth.store import tokens, users
    from berth.store.errors import StoreError

    settings = Settings()
    with database(settings) as db:
        try:
            with db.transaction() as tx:
                who = users.principal(users.get(tx, user))
                secret, row = tokens.issue(
                    tx,
                    who,
                    kind="api",
                    name=name,
                    lifetime=timedelta(days=days),
                    now=datetime.now(UTC),
                    max_lifetime=timedelta(days=settings.token_max_days),
                )
        except StoreError as exc:
            raise fail(f"cannot create token: {exc.detail}") from exc
    typer.echo(secret)
    typer.echo(f"expires {row.expires_at.isoformat()}", err=True)


def _checked_pools(path: Path | None) -> list[Pool]:
    """The pools of a pool file (None: the demo); errors exit 2, warnings go to stderr."""
    try:
        pool_list, warnings = check_pool_file(path)
    except FileError as exc:
        raise fail(str(exc)) from exc
    for warning in warnings:
        typer.secho(f"warning: {warning}", err=True, fg=typer.colors.YELLOW)
    return pool_list


@app.command("cache-agent")
def cache_agent(
    node: Annotated[list[str], typer.Option(help="The node this agent serves (repeatable)")],
    kubeconfig: Annotated[
        str | None, typer.Option(help="Kubeconfig; default: $KUBECONFIG, else in-cluster")
    ] = None,
    bind_mount: Annotated[
        bool, typer.Option(help="Bind-mount the cache's read-only view at start (needs root)")
    ] = True,
    provision: Annotated[
        bool, typer.Option(help="Run the provisioner of the cache's volumes (needs Kubernetes)")
    ] = True,
    root: Annotated[
        str,
        typer.Option(
            help="The node's cache root (cache/, staging/); several nodes: ROOT/<node>, "
            "or a ROOT holding {node}"
        ),
    ] = "/var/lib/berth",
    api: Annotated[
        str | None,
        typer.Option(help="The portal's URL; staging runs only when it is given"),
    ] = None,
    token_file: Annotated[
        str | None,
        typer.Option(
            help="The node's credential (`berth cache token`), may hold {node}; "
            "default: $BERTH_CACHE_AGENT_TOKEN"
        ),
    ] = None,
    capacity: Annotated[
        str | None,
        typer.Option(help="Disk budget in bytes (500Gi); default: the root filesystem's size"),
    ] = None,
    high_watermark: Annotated[
        str, typer.Option(help="Evict above this: a fraction of the capacity (0.9) or bytes")
    ] = "0.9",
    low_watermark: Annotated[
        str, typer.Option(help="Evict down to this: a fraction of the capacity or bytes")
    ] = "0.8",
    concurrency: Annotated[int, typer.Option(min=1, help="Downloads at once")] = 2,
    poll: Annotated[float, typer.Option(min=0.05, help="Seconds between plan polls")] = 5.0,
    report_every: Annotated[
        float, typer.Option(min=0.05, help="Seconds between reports (also sent on a change)")
    ] = 5.0,
    lead: Annotated[
        float,
        typer.Option(help="Stage this many seconds before a start (plus 3x the transfer time)"),
    ] = 6 * 3600.0,
    rehash: Annotated[
        bool, typer.Option(help="Re-hash every published file at start (sizes are always checked)")
    ] = False,
) -> None:
    """Run the node cache agent for NODE: the provisioner of the artifact cache's StorageClass
    and, with --api, the staging loop (download, verify, publish, budget, report).

    The provisioner makes the hostPath PersistentVolume of each session's `artifacts` claim
    scheduled to its node (the node's read-only view of the cache) and deletes it once
    Released. The staging loop polls the node's plan from the portal, stages the models it
    names before their reservations start and reports the node's state (docs/runtime.md).
    """
    from berth.cache import daemon

    try:
        daemon.run(
            daemon.Options(
                nodes=tuple(node),
                root=root,
                api=api,
                token_file=token_file,
                capacity=capacity,
                high_watermark=high_watermark,
                low_watermark=low_watermark,
                concurrency=concurrency,
                poll=poll,
                report_every=report_every,
                lead=lead,
                rehash=rehash,
                provision=provision,
                kubeconfig=kubeconfig,
                bind_mount=bind_mount,
            )
        )
    except ValueError as exc:
        raise fail(f"cache-agent: {exc}") from exc


@app.command("check-pools")
def check_pools(
    file: Annotated[Path, typer.Argument(help="Pool file to validate", exists=False)],
) -> None:
    """Validate a pool file and print the bookable kinds it yields (and their idle policies).

    MIG profiles are checked against the GPU model's table (berth.domain.mig); a model not in
    the table is accepted with a warning. Each pool's cluster must be `default` or one of the
    file's `clusters:`; a kubeconfig not found here is a warning (the reconciler, where the
    file is mounted, refuses to start without it). See docs/scale.md.
    """
    for pool in _checked_pools(file):
        kinds = ", ".join(
            f"{k.units} x {k.name} ({k.replicas} slots each)" for k in pool.kinds().values()
        )
        where = "" if pool.cluster == DEFAULT_CLUSTER else f" on cluster {pool.cluster}"
        typer.echo(f"{pool.name}: {len(pool.nodes)} node(s){where}; {kinds or 'no GPUs'}")
        for kind, p in sorted(pool.idle.items()):
            parts = [f"under {p.threshold:g}"]
            if p.idle_minutes is not None:
                parts.append(f"warned after {p.idle_minutes:g} min idle")
            if p.no_show_minutes is not None:
                parts.append(f"no-show after {p.no_show_minutes:g} min")
            parts.append(f"released {p.answer_minutes:g} min after an unanswered warning")
            parts.append(f"keep: {p.keep_minutes:g} min")
            typer.echo(f"  idle reclaim of {kind}: " + "; ".join(parts))


@app.command("check-catalog")
def check_catalog(
    file: Annotated[Path, typer.Argument(help="Catalog file to validate", exists=False)],
) -> None:
    """Validate a runtime catalog (engines and models, docs/runtime.md) and summarize it.

    Warns for each engine pinned by tag only (no `digest`)."""
    try:
        catalog = load_catalog_file(file)
    except FileError as exc:
        raise fail(str(exc)) from exc
    for e in catalog.engines:
        formats = ", ".join(f.value for f in e.formats)
        typer.echo(f"engine {e.name}: {e.reference} (serves {formats})")
        if e.digest is None:
            typer.secho(f"warning: engine {e.name} is pinned by tag only", err=True, fg="yellow")
    for m in catalog.models:
        typer.echo(
            f"model {m.id}: {m.format.value}, {len(m.files)} file(s), {format_bytes(m.size)}"
        )


PoolFileOption = Annotated[
    Path | None,
    typer.Option(
        "--pool-file", help="Pool file (default: BERTH_POOL_FILE, else the demo pool, the C845A)"
    ),
]


def _pools_for_render(pool_file: Path | None) -> tuple[list[Pool], str]:
    """The pools to render from (the option, BERTH_POOL_FILE or the demo), and the file's name."""
    path = pool_file or Settings().pool_file
    return _checked_pools(path), str(path) if path else "demo.yaml"


@render_app.command("gpu-operator")
def render_gpu_operator(
    pool_file: PoolFileOption = None,
    namespace: Annotated[
        str, typer.Option(help="The GPU Operator's namespace (OpenShift: nvidia-gpu-operator)")
    ] = gpu_operator.DEFAULT_NAMESPACE,
    cluster_policy: Annotated[
        str, typer.Option(help="The ClusterPolicy's name (OpenShift: gpu-cluster-policy)")
    ] = gpu_operator.DEFAULT_CLUSTER_POLICY,
) -> None:
    """Print the GPU Operator configuration that makes the cluster offer the pool's slots.

    Multi-document YAML: the MIG manager's custom-mig-config (one mig-parted config per node
    layout, mixed strategy), the device plugin's time-slicing-config (one key per set of
    replicas) and the ClusterPolicy fields naming both; the node labels as `# RUN: kubectl
    label ...` lines. See docs/gpu-operator.md.
    """
    pool_list, source = _pools_for_render(pool_file)
    typer.echo(
        gpu_operator.render(
            pool_list, namespace=namespace, cluster_policy=cluster_policy, source=source
        ),
        nl=False,
    )


@render_app.command("mirror")
def render_mirror(
    pool_file: PoolFileOption = None,
    fmt: Annotated[
        Literal["yaml", "list"],
        typer.Option(
            "--format",
            help="yaml: an oc-mirror v2 ImageSetConfiguration; list: one image per line (skopeo)",
        ),
    ] = "yaml",
    berth_image: Annotated[
        str, typer.Option(help="The Berth image you built (repository:tag or @sha256:...)")
    ] = f"localhost/berth:{__version__}",
    postgres: Annotated[
        bool,
        typer.Option(
            "--postgres/--no-postgres",
            help="The install runs its own PostgreSQL (default: the embedded one, no image)",
        ),
    ] = False,
    openshift: Annotated[
        str, typer.Option(help="OpenShift version: the tag of the operator catalogs")
    ] = mirror.DEFAULT_OPENSHIFT,
) -> None:
    """Print every image an air-gapped install needs, pinned (by digest where one is known).

    The platform (Berth, the workspace image, PostgreSQL with --postgres), the NVIDIA GPU
    Operator and its operands (the MIG manager only if the pool file has MIG slices), and the
    inference engines. The list is data: src/berth/install/images.yaml.
    """
    if ":" not in berth_image.rpartition("/")[2] and "@" not in berth_image:
        raise fail(f"--berth-image {berth_image!r}: pin a tag or a digest")
    pool_list, _ = _pools_for_render(pool_file)
    data = mirror.load_images()
    images = mirror.select(
        data,
        pool_list,
        berth_image=berth_image,
        workspace_image=Settings().workspace_image,
        postgres=postgres,
    )
    if fmt == "list":
        typer.echo(mirror.image_list(images), nl=False)
    else:
        typer.echo(mirror.image_set_configuration(data, images, openshift=openshift), nl=False)


@render_app.command("pinned-images")
def render_pinned_images(
    pool_file: PoolFileOption = None,
    catalog_file: Annotated[
        Path | None,
        typer.Option(help="Runtime catalog (default: BERTH_CATALOG_FILE, else the demo catalog)"),
    ] = None,
    machine_config_pool: Annotated[
        list[str] | None,
        typer.Option(
            "--machine-config-pool",
            help="MachineConfigPool whose nodes are the pools' GPU nodes (repeat for several) "
            "[default: worker]",
        ),
    ] = None,
) -> None:
    """Print OpenShift PinnedImageSets (one per MachineConfigPool) of the catalog's engine
    images, so CRI-O keeps them on the GPU nodes beside the reconciler's pre-pull DaemonSets.

    A PinnedImageSet takes images by digest only: engines the catalog pins by tag only are
    left out and named on stderr. See docs/runtime.md."""
    pool_list, source = _pools_for_render(pool_file)
    try:
        catalog = load_catalog_file(catalog_file or Settings().catalog_file)
    except FileError as exc:
        raise fail(f"catalog file is not usable:\n{exc}") from exc
    documents = []
    skipped: list[str] = []
    for mcp in machine_config_pool or ["worker"]:
        manifest, skipped = pinned_image_set(catalog.engines, mcp, pool_list)
        documents.append(manifest)
    for name in skipped:
        typer.secho(
            f"warning: engine {name} is pinned by tag only: not in the PinnedImageSet",
            err=True,
            fg="yellow",
        )
    if not any(d["spec"]["pinnedImages"] for d in documents):
        raise fail("no engine of the catalog is pinned by digest: nothing to pin")
    header = f"# PinnedImageSets of the engine images for the GPU nodes of {source}\n"
    typer.echo(header + yaml.safe_dump_all(documents, sort_keys=False, width=1000), nl=False)
