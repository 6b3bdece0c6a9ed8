"""`berth sim`: a thin shell over berth.sim.build and berth.sim.cluster with progress output."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn
from rich.table import Table

from berth.sim import build as sim_build
from berth.sim import cluster, versions
from berth.sim.progress import Snapshot
from berth.sim.state import Paths

app = typer.Typer(
    help="A local Kubernetes control plane with fake GPU nodes from the pool file "
    "(etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok).",
    no_args_is_help=True,
)
console = Console(stderr=True)


def _checked_name(name: str) -> str:
    try:
        return versions.check_sim_name(name)
    except ValueError as err:
        raise typer.BadParameter(str(err)) from err


Name = Annotated[
    str,
    typer.Option(
        "--name",
        callback=_checked_name,
        help="Which sim: several run side by side, each with its own ports, etcd, PKI and "
        "kubeconfig context (berth-sim-NAME).",
    ),
]


def _flag(name: str) -> str:
    """How to name this sim again on the command line."""
    return "" if name == versions.DEFAULT_SIM else f" --name {name}"


def _build(force: bool) -> None:
    layout = versions.cache_layout()
    if not sim_build.pending(layout, force):
        console.print(f"sim binaries present in {layout.bin}")
        return
    began = time.monotonic()
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[times]}"),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("preparing", total=1.0, times="")

        def on_progress(snap: Snapshot) -> None:
            bar.update(
                task,
                completed=snap.fraction,
                description=snap.step or "done",
                times=f"{snap.elapsed:.0f}s elapsed, ~{snap.remaining:.0f}s left",
            )

        try:
            built = sim_build.tracked_build(layout, on_progress, force=force)
        except sim_build.BuildError as err:
            console.print(f"[red]build failed:[/] {err}")
            raise typer.Exit(1) from err
    took = time.monotonic() - began
    console.print(f"built {', '.join(built)} into {layout.bin} in {took:.0f}s")


@app.command()
def build(
    force: Annotated[bool, typer.Option(help="Rebuild even when the binaries exist.")] = False,
) -> None:
    """Build the pinned binaries from the Go module proxy into the cache (reused when present)."""
    # `make test` builds in the background and stops the build with SIGTERM when the rest of
    # its setup fails: as SystemExit it unwinds through the go command, which is killed with
    # its compilers instead of compiling on for minutes.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    _build(force)


@app.command()
def up(
    pool_file: Annotated[
        Path | None,
        typer.Option(help="Pool file whose nodes become fake GPU nodes [default: the demo pool]."),
    ] = None,
    nodes: Annotated[
        int, typer.Option(min=1, help="Copies of every pool-file node (scale tests).")
    ] = 1,
    openshift: Annotated[
        bool,
        typer.Option(
            "--openshift",
            help="Register the OpenShift API types Berth uses (Route, SecurityContextConstraints) "
            "as CRDs from the pinned github.com/openshift/api module.",
        ),
    ] = False,
    name: Name = versions.DEFAULT_SIM,
) -> None:
    """Start the sim in the background and wait until it is really ready."""
    _build(force=False)
    began = time.monotonic()
    with console.status("starting", spinner="dots") as status:

        def on_step(title: str) -> None:
            status.update(f"waiting for {title}")
            console.print(f"[dim]{time.monotonic() - began:5.1f}s[/] {title}")

        try:
            state = cluster.up(
                pool_file, nodes, on_step=on_step, with_openshift=openshift, name=name
            )
        except (cluster.SimError, TimeoutError, ValueError, OSError) as err:
            console.print(f"[red]sim did not start:[/] {err}")
            raise typer.Exit(1) from err
    kubeconfig = Paths(versions.state_dir(name)).kubeconfig
    console.print(
        f"[green]ready[/] in {state.ready_seconds:.1f}s: {state.server}, "
        f"{state.nodes} node(s), storage classes {', '.join(state.storage_classes) or 'none'}"
        + (", OpenShift CRDs registered" if state.openshift else "")
    )
    typer.echo(f"export KUBECONFIG={kubeconfig}")
    console.print(f"then e.g. `kubectl get nodes`; stop it with `berth sim down{_flag(name)}`")


@app.command()
def down(name: Name = versions.DEFAULT_SIM) -> None:
    """Stop the sim's processes."""
    if cluster.down(versions.state_dir(name)):
        console.print("sim stopped")
    else:
        console.print("no sim was running")


@app.command("list")
def list_sims() -> None:
    """Every sim with a state folder: name, server, nodes, whether it runs."""
    table = Table("name", "server", "nodes", "running", "kubeconfig")
    for name in versions.sim_names():
        current = cluster.status(versions.state_dir(name))
        if current is None:
            continue
        table.add_row(
            name,
            current.state.server,
            str(current.state.nodes),
            "yes" if current.running else "[red]no[/]",
            str(Paths(versions.state_dir(name)).kubeconfig),
        )
    if not table.rows:
        console.print("no sim recorded; start one with `berth sim up [--name NAME]`")
        return
    Console().print(table)


@app.command()
def status(name: Name = versions.DEFAULT_SIM) -> None:
    """Show the sim's components, ports and memory."""
    current = cluster.status(versions.state_dir(name))
    if current is None:
        console.print(f"no sim recorded; start one with `berth sim up{_flag(name)}`")
        raise typer.Exit(1)
    table = Table("component", "pid", "port", "running", "RSS MiB")
    for name, pid in current.state.pids.items():
        table.add_row(
            name,
            str(pid),
            str(current.state.ports.get(name, "")),
            "yes" if current.alive[name] else "[red]no[/]",
            f"{current.rss[name] / 2**20:.0f}",
        )
    table.add_row("total", "", "", "", f"{sum(current.rss.values()) / 2**20:.0f}")
    Console().print(table)
    console.print(
        f"server {current.state.server}, {current.state.nodes} node(s), "
        f"ready after {current.state.ready_seconds:.1f}s"
        + (", OpenShift CRDs registered" if current.state.openshift else "")
    )
    if not current.running:
        raise typer.Exit(1)


@app.command()
def kubeconfig(name: Name = versions.DEFAULT_SIM) -> None:
    """Print the path of the sim's admin kubeconfig."""
    path = Paths(versions.state_dir(name)).kubeconfig
    if not path.exists():
        console.print(f"no sim kubeconfig; start one with `berth sim up{_flag(name)}`")
        raise typer.Exit(1)
    typer.echo(str(path))
