"""The `berth` command. Each sub-command is a thin shell over the packages it names."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal

import typer

from berth import __version__
from berth.cli import clusters
from berth.cli.render import app as render_app
from berth.config import Settings, check_pool_file, load_pool_file
from berth.domain.pool import Pool
from berth.install import gpu_operator, mirror
from berth.reconciler.loop import Cadence, Reconciler
from berth.reconciler.plan import Limits
from berth.sim import cluster as sim_cluster
from berth.sim.cli import app as sim_app
from berth.sim.cli import up as sim_up
from berth.store import bootstrap
from berth.store.db import Database, Opened
from berth.tokenomics.cli import app as tokenomics_app
from berth.yamlfile import FileError

app = typer.Typer(
    name="berth",
    help="Berth: book GPU capacity on a calendar; get an isolated Kubernetes workspace.",
    no_args_is_help=True,
    add_completion=False,
)
user_app = typer.Typer(help="Manage users.", no_args_is_help=True)
token_app = typer.Typer(help="Manage API tokens.", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
app.add_typer(render_app, name="render")
app.add_typer(tokenomics_app, name="tokenomics")
app.add_typer(sim_app, name="sim")


def fail(message: str, code: int = 2) -> typer.Exit:
    typer.secho(message, err=True, fg=typer.colors.RED)
    return typer.Exit(code)


@contextmanager
def database(settings: Settings, *, migrate: bool = True) -> Iterator[Database]:
    """The configured database (starting the embedded one if no URL is set), migrated."""
    try:
        pool_list = load_pool_file(settings.pool_file)
    except FileError as exc:
        raise fail(f"pool file is not usable:\n{exc}") from exc
    opened = Opened(settings.database_url, settings.data_dir)
    db = Database(opened.url, pool_size=settings.db_pool_size)
    try:
        if migrate:
            bootstrap.prepare(db, pool_list, settings.secret_box())
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


def _serve(settings: Settings, db: Database, host: str, port: int, workers: int = 1) -> None:
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
        uvicorn.run(create_app(settings, db), **options)  # type: ignore[arg-type]
        return
    _serve_workers(db, workers, options)


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
                **options,  # type: ignore[arg-type]
            )
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


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
    """Start the whole platform: database, pools, admin, API + UI, and the reconciler."""
    settings = Settings()
    where = settings.database_url or f"embedded PostgreSQL in {settings.data_dir / 'pgdata'}"
    typer.echo(f"database: {where}")
    with database(settings) as db:
        _ensure_admin(db, settings)
        found, started_sim = _find_cluster(settings, start_sim=sim)
        stop = threading.Event()
        work = _background_work(db, settings, found, stop)
        work.start()
        typer.echo(f"Berth is at http://{host}:{port}/  (API docs: /api/docs)")
        try:
            _serve(settings, db, host, port)
        finally:
            stop.set()
            work.join(30)
            _release_cluster(found, started_sim)


ADMIN_PASSWORD_FILE = "admin-password"  # noqa: S105 (a file name, not a password)


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


def _find_cluster(settings: Settings, *, start_sim: bool) -> tuple[clusters.Found | None, bool]:
    """The cluster to drive, and whether a `berth sim` was started for it (none answered)."""
    found = clusters.find(settings)
    if found is not None or not start_sim:
        return found, False
    sim_up(pool_file=settings.pool_file, nodes=1)
    return clusters.find(settings), True


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


def _release_cluster(found: clusters.Found | None, started_sim: bool) -> None:
    if found is not None:
        found.cluster.close()
    if started_sim:
        sim_cluster.down()


def _reconciler(db: Database, settings: Settings, found: clusters.Found) -> Reconciler:
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
    )


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
) -> None:
    """Run the reconciler: converge the cluster to the database (one leader at a time)."""
    settings = Settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with database(settings) as db:
        found = clusters.find(settings)
        if found is None:
            raise fail("no reachable cluster: run `berth sim up` or set BERTH_KUBECONFIG")
        typer.echo(f"reconciler: driving {found.source}", err=True)
        rec = _reconciler(db, settings, found)
        try:
            if once:
                result = rec.cycle(gc=gc)
                for action in result.actions:
                    typer.echo(f"{type(action).__name__}: {action}")
                return
            if metrics_port:
                from prometheus_client import start_http_server

                start_http_server(metrics_port, addr=metrics_address)
            stop = threading.Event()
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            try:
                rec.run(stop)
            except KeyboardInterrupt:
                stop.set()
        finally:
            found.cluster.close()


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
) -> None:
    """Run the node cache agent: the provisioner of the artifact cache's StorageClass for NODE.

    It makes the hostPath PersistentVolume of each session's `artifacts` claim scheduled to its
    node (the node's read-only view of the cache), and deletes it once Released.
    """
    from berth.cache import provisioner

    provisioner.run(node, kubeconfig=kubeconfig, bind_mount=bind_mount)


@app.command("check-pools")
def check_pools(
    file: Annotated[Path, typer.Argument(help="Pool file to validate", exists=False)],
) -> None:
    """Validate a pool file and print the bookable kinds it yields.

    MIG profiles are checked against the GPU model's table (berth.domain.mig); a model not in
    the table is accepted with a warning.
    """
    for pool in _checked_pools(file):
        kinds = ", ".join(
            f"{k.units} x {k.name} ({k.replicas} slots each)" for k in pool.kinds().values()
        )
        typer.echo(f"{pool.name}: {len(pool.nodes)} node(s); {kinds or 'no GPUs'}")


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
