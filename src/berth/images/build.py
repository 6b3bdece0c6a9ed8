"""Build the `berth` and `workspace` images: base, build context, buildah bud, a record.

Each image's inputs (the base's key, its Containerfile, its pins, Berth's sources and built UI)
are hashed into its cache key, stored as the image's `io.berth.inputs` label: an image whose
label matches is not built again. Build times and sizes go to `<cache>/builds.json`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from berth import __version__
from berth.images import base, pins
from berth.images.buildah import Buildah

Line = Callable[[str], None]

IMAGES = ("berth", "workspace")
TAGS = {
    "berth": f"localhost/berth:{__version__}",
    # the tag SessionConfig.image names by default is code-server's; this one is Berth's own
    "workspace": f"localhost/berth-workspace:{__version__}",
}
# files of an image's folder beside its Containerfile (hashed into its key, copied to its
# context); every context also gets the berth image's constraints.txt, the pins of Berth's wheels
PINS = {"berth": ("constraints.txt",), "workspace": ("requirements.txt", "entrypoint.sh")}


_IGNORED = shutil.ignore_patterns(*pins.SKIP_DIRS, "*.pyc")


@dataclass(frozen=True)
class Record:
    image: str
    tag: str
    inputs: str
    cached: bool
    seconds: float  # this call, cache hit or not
    size_bytes: int
    when: str


def _sources(repo: Path) -> list[str | bytes]:
    web = repo / "src" / "berth" / "web" / "index.html"
    if not web.is_file():
        raise FileNotFoundError(f"{web} is missing: build the UI first (make ui)")
    return pins.tree_parts(repo / "src" / "berth", repo / "pyproject.toml", repo / "README.md")


def inputs_key(image: str, base_key: str, repo: Path) -> str:
    folder = repo / "images" / image
    return pins.digest(
        [
            image,
            base_key,
            *pins.tree_parts(folder / "Containerfile", *(folder / p for p in PINS[image])),
            *pins.tree_parts(repo / "images" / "berth" / "constraints.txt"),
            *_sources(repo),
        ]
    )


def write_context(image: str, repo: Path, target: Path, on_line: Line) -> Path:
    """The build context of `image` in `target`: its Containerfile, pins and wheels/ (Berth's
    wheel and its dependencies' under images/berth/constraints.txt, and pip's own)."""
    if image not in IMAGES:
        raise ValueError(f"unknown image {image!r}: one of {', '.join(IMAGES)}")
    _sources(repo)  # the UI must be built
    if target.exists() and any(target.iterdir()):
        if not ((target / "Containerfile").is_file() and (target / "wheels").is_dir()):
            raise FileExistsError(
                f"{target} is not empty and not an image context (Containerfile, wheels/): "
                "name a new folder"
            )
        shutil.rmtree(target)
    wheels = target / "wheels"
    wheels.mkdir(parents=True)
    folder = repo / "images" / image
    constraints = repo / "images" / "berth" / "constraints.txt"
    for path in {folder / "Containerfile", constraints, *(folder / p for p in PINS[image])}:
        shutil.copy2(path, target / path.name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    on_line(f"{image}: wheels of Berth and its dependencies")
    with tempfile.TemporaryDirectory(prefix="berth-wheel-") as tmp:
        # from a copy of the sources alone: setuptools' build/ folder in the checkout may hold
        # modules deleted since, which would end up in the wheel
        source = Path(tmp)
        shutil.copytree(repo / "src" / "berth", source / "src" / "berth", ignore=_IGNORED)
        for name in ("pyproject.toml", "README.md"):
            shutil.copy2(repo / name, source / name)
        subprocess.run(
            [*pip, "wheel", "--quiet", "--wheel-dir", str(wheels), "-c", str(constraints), tmp],
            check=True,
        )
    subprocess.run(
        [*pip, "download", "--quiet", "--no-deps", "-d", str(wheels), f"pip=={pins.PIP}"],
        check=True,
    )
    return target


def build(image: str, on_line: Line, *, cache: Path | None = None) -> Record:
    """Build `image` unless an image of the same inputs exists; record and return the result."""
    if image not in IMAGES:
        raise ValueError(f"unknown image {image!r}: one of {', '.join(IMAGES)}")
    started = time.monotonic()
    repo = pins.repository()
    cache = cache or pins.cache_root()
    builder = Buildah(cache / "buildah")
    base_key = base.ensure_image(builder, cache, pins.debian_mirror(), on_line)
    key = inputs_key(image, base_key, repo)
    tag = TAGS[image]
    cached = builder.inputs_of(tag) == key
    if cached:
        on_line(f"{image}: cached ({tag}, inputs {key})")
    else:
        context = write_context(image, repo, cache / "context" / image, on_line)
        on_line(f"{image}: buildah bud {tag}")
        builder.bud(
            context / "Containerfile",
            context,
            tag,
            key,
            build_args=[f"BASE={pins.BASE_IMAGE}"],
        )
        builder.run("rmi", "--prune", capture=True)  # the image this one replaced, if any
    record = Record(
        image=image,
        tag=tag,
        inputs=key,
        cached=cached,
        seconds=round(time.monotonic() - started, 1),
        size_bytes=builder.size_of(tag),
        when=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    _append(cache / "builds.json", record)
    on_line(f"{image}: {tag} {record.size_bytes / 2**20:.0f} MiB, {record.seconds:.0f}s")
    return record


def _append(path: Path, record: Record) -> None:
    rows = json.loads(path.read_text()) if path.is_file() else []
    rows = [*rows, asdict(record)][-200:]
    path.write_text(json.dumps(rows, indent=1) + "\n")
