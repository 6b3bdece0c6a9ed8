"""The shared base image: Debian bookworm minbase + Python 3.11, made by debootstrap.

Stands in for `debian:bookworm-slim` plus Python, which no reachable registry serves. The root
file system is tarred to `<cache>/base-<key>.tar` (kept: a deleted buildah storage re-imports it
in seconds) and imported as BASE_IMAGE with the key as its inputs label.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from berth.images import pins
from berth.images.buildah import INPUTS_LABEL, Buildah

Line = Callable[[str], None]

# what minbase keeps that no image needs: package lists and downloaded .debs, docs, man pages
_PRUNE = ("var/cache/apt/archives", "var/lib/apt/lists", "usr/share/doc", "usr/share/man")


def tarball(cache: Path, key: str) -> Path:
    return cache / f"base-{key}.tar"


def ensure_rootfs(cache: Path, mirror: str, key: str, on_line: Line) -> Path:
    """The base tarball of `key`: made by debootstrap unless it is cached."""
    target = tarball(cache, key)
    if target.is_file():
        on_line(f"base rootfs: cached ({target.name})")
        return target
    if shutil.which("debootstrap") is None:
        raise FileNotFoundError("debootstrap is not installed: `apt-get install debootstrap`")
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache, prefix="rootfs-") as tmp:
        root = Path(tmp) / "root"
        on_line(f"base rootfs: debootstrap {pins.DEBOOTSTRAP_VARIANT} {pins.DEBIAN_SUITE}")
        subprocess.run(
            [
                "debootstrap",
                f"--variant={pins.DEBOOTSTRAP_VARIANT}",
                f"--include={','.join(pins.BASE_PACKAGES)}",
                pins.DEBIAN_SUITE,
                str(root),
                mirror,
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        packages = subprocess.run(
            ["dpkg-query", f"--admindir={root}/var/lib/dpkg", "-W"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        for sub in _PRUNE:
            for child in (root / sub).glob("*"):
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
        partial = target.with_suffix(".partial")
        subprocess.run(
            ["tar", "--numeric-owner", "--xattrs", "-C", str(root), "-cf", str(partial), "."],
            check=True,
        )
        partial.rename(target)
        target.with_suffix(".packages").write_text(packages)
    return target


def ensure_image(builder: Buildah, cache: Path, mirror: str, on_line: Line) -> str:
    """BASE_IMAGE built from the current base inputs; returns their key."""
    key = pins.base_key(mirror)
    if builder.inputs_of(pins.BASE_IMAGE) == key:
        on_line(f"base image: cached ({pins.BASE_IMAGE})")
        return key
    rootfs = ensure_rootfs(cache, mirror, key, on_line)
    on_line(f"base image: import {rootfs.name} as {pins.BASE_IMAGE}")
    container = builder.run("from", "scratch", capture=True).strip()
    try:
        builder.run("add", "--quiet", container, str(rootfs), "/", capture=True)
        builder.run(
            "config",
            "--env",
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "--env",
            "LANG=C.UTF-8",
            "--cmd",
            "/bin/bash",
            "--label",
            f"{INPUTS_LABEL}={key}",
            container,
        )
        builder.run("commit", "--quiet", "--rm", container, pins.BASE_IMAGE, capture=True)
    except BaseException:
        builder.run("rm", container, capture=True)
        raise
    return key
