"""`berth cache ...`: the node cache's commands (the agent itself is `berth cache-agent`).

`demo-source` serves the demo catalog's bytes; `token` makes a node's cache credential (shown
once; the old one is revoked; `--revoke` only revokes); `status` shows per node, per model, what
the agents last reported, with progress bars."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console, Group
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from berth.catalog import load_catalog_file

app = typer.Typer(help="The node cache of engines and models.", no_args_is_help=True)


@app.command("demo-source")
def demo_source(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1")] = 8089,
    rate: Annotated[
        float | None, typer.Option(help="At most this many bytes/s per response")
    ] = None,
    catalog: Annotated[
        Path | None, typer.Option(help="Catalog file; default: the demo catalog")
    ] = None,
) -> None:
    """Serve the demo catalog's synthetic model files over HTTP (with Range), so staging works
    without a network: http://127.0.0.1:PORT/<model>/<path>. Stops on Ctrl-C or SIGTERM."""
    import signal
    import threading

    from berth.cache.demo import demo_server

    server = demo_server(load_catalog_file(catalog), port=port, rate=rate)
    typer.echo(f"demo source on {server.url}", err=True)

    def _stop(*_: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


# ---- the portal's side: node credentials and what the agents reported (branch portal) ----


@app.command("token")
def token(
    node: Annotated[str, typer.Option("--node", help="The node the credential is for")],
    revoke: Annotated[
        bool, typer.Option("--revoke", help="Revoke the node's credential; make no new one")
    ] = False,
    days: Annotated[
        int | None, typer.Option("--days", min=1, help="Lifetime in days (default: no expiry)")
    ] = None,
    token_file: Annotated[
        Path | None,
        typer.Option(
            "--token-file", help="Write the credential to this file (mode 0600) instead of stdout"
        ),
    ] = None,
) -> None:
    """Make a new cache credential for NODE and print it once (the old one is revoked).

    The node's cache agent sends it as `Authorization: Bearer ...`; it is good for that node's
    `/api/v1/cache/nodes/NODE/...` endpoints only."""
    from berth.cli import _write_private, database, fail
    from berth.config import Settings
    from berth.store import cache
    from berth.store.errors import StoreError

    settings = Settings()
    now = datetime.now(UTC)
    with database(settings) as db:
        try:
            with db.transaction() as tx:
                if revoke:
                    had = cache.revoke_credential(tx, node, now, actor="cli")
                    typer.echo(
                        f"revoked the cache credential of {node}"
                        if had
                        else f"{node} had no live cache credential",
                        err=True,
                    )
                    return
                expires = now + timedelta(days=days) if days else None
                secret, row = cache.issue_credential(tx, node, now, actor="cli", expires_at=expires)
        except StoreError as exc:
            raise fail(f"cannot make a cache credential: {exc.detail}") from exc
    if token_file is not None:
        _write_private(token_file, secret + "\n")
        typer.echo(f"wrote the cache credential of {node} to {token_file}", err=True)
    else:
        typer.echo(secret)
    when = f"expires {row.expires_at.isoformat()}" if row.expires_at else "does not expire"
    typer.echo(f"{row.prefix}… for node {node}; {when}; the previous one is revoked", err=True)


def human(n: int) -> str:
    """Bytes for a person: 101713920 -> '97.0 MiB'."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def bar(done: int, total: int, width: int = 24) -> ProgressBar:
    return ProgressBar(total=max(total, 1), completed=min(done, max(total, 1)), width=width)


def _ago(t: datetime | None, now: datetime) -> str:
    if t is None:
        return "never reported"
    seconds = int((now - t).total_seconds())
    if seconds < 120:
        return f"reported {seconds}s ago"
    if seconds < 7200:
        return f"reported {seconds // 60} min ago"
    return f"reported {t.isoformat(timespec='minutes')}"


@app.command("status")
def status(
    node: Annotated[str | None, typer.Option("--node", help="Only this node")] = None,
) -> None:
    """Per node, per model: the state its cache agent last reported, with progress bars."""
    from berth.cli import database, fail
    from berth.config import Settings
    from berth.store import cache

    settings = Settings()
    now = datetime.now(UTC)
    with database(settings) as db, db.transaction() as tx:
        nodes = cache.overview(tx, now, node)
    if node is not None and not nodes[0][1]:
        raise fail(f"no pool includes node {node!r}")
    console = Console()
    for name, pools, credential, summary, artifacts, needed in nodes:
        head = Text.assemble((name, "bold"), f"  pools: {', '.join(pools)}  ")
        head.append(
            "credential " + (f"{credential.prefix}…" if credential else "none"),
            style=None if credential else "yellow",
        )
        parts: list[Text | ProgressBar | Table] = [head]
        if summary is None:
            parts.append(Text("  no report yet", style="yellow"))
        else:
            rate = f"{human(summary.bandwidth_bps)}/s" if summary.bandwidth_bps else "not measured"
            usage = Table.grid(padding=(0, 1))
            usage.add_row(
                Text(
                    f"  used {human(summary.used_bytes)} of "
                    f"{human(summary.capacity_bytes)}; bandwidth {rate}; "
                    f"{_ago(summary.reported_at, now)}"
                ),
                bar(summary.used_bytes, summary.capacity_bytes, 30),
            )
            parts.append(usage)
        table = Table(show_edge=False, pad_edge=False, box=None)
        for col in ("model", "state", "progress", "bytes", "needed", "reason / detail"):
            table.add_column(col)
        seen = set()
        for a in artifacts:
            seen.add(a.model)
            done = a.size if a.state == "ready" else a.downloaded
            why = " ".join(x for x in (a.reason, a.detail) if x)
            table.add_row(
                a.model,
                Text(a.state, style={"ready": "green", "failed": "red"}.get(a.state, "")),
                bar(done, a.size),
                f"{human(done)} / {human(a.size)}",
                "yes" if a.model in needed else "",
                why,
            )
        for missing in sorted(needed - seen):
            table.add_row(missing, Text("not reported", style="yellow"), "", "", "yes", "")
        if table.row_count:
            parts.append(table)
        console.print(Group(*parts))
        console.print()
