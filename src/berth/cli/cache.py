"""`berth cache ...`: the node cache's commands (the agent itself is `berth cache-agent`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

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
