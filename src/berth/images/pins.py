"""What the images are built from, pinned, and the hashes that key their caches.

Debian is pinned by suite only: snapshot.debian.org is not among the registries these machines
reach, so a rebuild with a cold cache takes the suite's packages of that day (bookworm's point
releases and security updates). Each base records its exact package list beside the tarball
(`base-<key>.packages`). Python packages are pinned exactly (images/berth/constraints.txt,
images/workspace/requirements.txt), npm packages by version in the Containerfile.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable
from pathlib import Path

import berth

DEBIAN_SUITE = "bookworm"
DEBOOTSTRAP_VARIANT = "minbase"
# what the shared base adds to minbase: the Python both images run, and the CA bundle for TLS
BASE_PACKAGES = ("python3.11", "ca-certificates")
BASE_IMAGE = f"localhost/berth-base:{DEBIAN_SUITE}"
# the pip that installs the wheels inside the image, run from its own wheel (no pip in the image)
PIP = "26.3"

SKIP_DIRS = {"__pycache__", ".mypy_cache", ".ruff_cache"}


def repository() -> Path:
    """The source checkout the images are built from (images/, pyproject.toml, src/)."""
    root = Path(berth.__file__).resolve().parents[2]
    if not (root / "images").is_dir() or not (root / "pyproject.toml").is_file():
        raise FileNotFoundError(
            f"no images/ folder beside {root}: build the images from a source checkout of Berth "
            "(pip install -e .)"
        )
    return root


def cache_root() -> Path:
    """$BERTH_IMAGE_CACHE, else ~/.cache/berth/images."""
    return Path(os.environ.get("BERTH_IMAGE_CACHE") or Path.home() / ".cache" / "berth" / "images")


def debian_mirror() -> str:
    """$BERTH_DEBIAN_MIRROR, else the first Debian archive this machine's apt uses."""
    given = os.environ.get("BERTH_DEBIAN_MIRROR")
    if given:
        return given
    sources = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    for path in sources:
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        for match in re.finditer(r"(?:URIs:\s*|^deb\s+(?:\[[^]]*\]\s+)?)(\S+)", text, re.M):
            uri = match.group(1).rstrip("/")
            if uri.endswith("/debian"):
                return uri
    raise FileNotFoundError(
        "no Debian archive in /etc/apt/sources.list*: set BERTH_DEBIAN_MIRROR to one "
        "(the URL ending in /debian)"
    )


def digest(parts: Iterable[str | bytes]) -> str:
    """A short hex key of the parts, in order."""
    h = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        h.update(len(data).to_bytes(8, "big"))
        h.update(data)
    return h.hexdigest()[:16]


def tree_parts(*roots: Path) -> list[str | bytes]:
    """Every file under the roots (or the file itself), by relative path and content."""
    parts: list[str | bytes] = []
    for root in roots:
        files = [root] if root.is_file() else sorted(_files(root))
        for path in files:
            parts += [str(path.relative_to(root.parent)), path.read_bytes()]
    return parts


def _files(root: Path) -> Iterable[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        for name in filenames:
            if not name.endswith(".pyc"):
                yield Path(dirpath) / name


def base_key(mirror: str) -> str:
    return digest([DEBIAN_SUITE, DEBOOTSTRAP_VARIANT, *BASE_PACKAGES, mirror])
