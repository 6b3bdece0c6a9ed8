"""The `berth` command. Each sub-command is a thin shell over the packages it names."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="berth",
    help="Berth: book GPU capacity on a calendar; get an isolated Kubernetes workspace.",
    no_args_is_help=True,
    add_completion=False,
)


@app.command()
def version() -> None:
    """Print Berth's version."""
    from berth import __version__

    typer.echo(__version__)
