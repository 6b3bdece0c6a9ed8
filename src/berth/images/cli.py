"""`berth image`: a thin shell over berth.images.build, one progress line per step."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Annotated

import typer

from berth.images import build as image_build
from berth.images import pins
from berth.images.buildah import BuildahError

app = typer.Typer(
    help="Build Berth's container images with buildah from a debootstrap base "
    "(docs/install.md#the-images).",
    no_args_is_help=True,
)


def _checked(image: str) -> str:
    if image not in image_build.IMAGES:
        raise typer.BadParameter(f"unknown image {image!r}: one of {', '.join(image_build.IMAGES)}")
    return image


@app.command("build")
def build_command(
    images: Annotated[
        list[str] | None,
        typer.Argument(help="berth, workspace [default: both]", show_default=False),
    ] = None,
) -> None:
    """Build the images (cached by a hash of their inputs under ~/.cache/berth/images)."""
    began = time.monotonic()

    def line(text: str) -> None:
        typer.echo(f"[{time.monotonic() - began:6.0f}s] {text}", err=True)

    for image in [_checked(i) for i in images or image_build.IMAGES]:
        try:
            image_build.build(image, line)
        except (BuildahError, FileNotFoundError, subprocess.CalledProcessError) as exc:
            typer.secho(f"building {image} failed: {exc}", err=True, fg=typer.colors.RED)
            raise typer.Exit(1) from exc


@app.command("context")
def context_command(
    image: Annotated[str, typer.Argument(help="berth or workspace")],
    target: Annotated[
        Path, typer.Argument(help="folder to write (a new one, or a context written before)")
    ],
) -> None:
    """Write an image's build context (Containerfile, pins, wheels/) for `oc start-build
    --from-dir`."""
    try:
        image_build.write_context(_checked(image), pins.repository(), target, typer.echo)
    except (FileNotFoundError, FileExistsError, subprocess.CalledProcessError) as exc:
        typer.secho(f"writing the context failed: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1) from exc
    typer.echo(str(target))
