"""Pinned versions of the sim's components and the folders derived from them.

The binaries take a long time to build on a small machine, so they live in a cache outside the
repository keyed by every pinned version: bumping one version builds a new set beside the old one
and never mixes binaries of two Kubernetes releases.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

KUBERNETES = "v1.37.2"
ETCD = "v3.6.16"
KWOK = "v0.8.0"

KUBE_BINARIES = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")
ALL_BINARIES = (*KUBE_BINARIES, "etcd", "kwok")
KWOK_STAGES = "kwok-stages.yaml"


def staging_version(kubernetes: str = KUBERNETES) -> str:
    """`v1.37.2` -> `v0.37.2`: the published tag of every staging module of that release."""
    _, minor, patch = kubernetes.lstrip("v").split(".")
    return f"v0.{minor}.{patch}"


def versions_key() -> str:
    """A folder name that changes whenever any pinned version changes."""
    text = f"kubernetes={KUBERNETES};etcd={ETCD};kwok={KWOK}"
    digest = hashlib.sha256(text.encode()).hexdigest()[:8]
    return f"k8s-{KUBERNETES}-etcd-{ETCD}-kwok-{KWOK}-{digest}"


@dataclass(frozen=True)
class CacheLayout:
    """Where one version set's Go wrapper modules and binaries live."""

    root: Path

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def src(self) -> Path:
        return self.root / "src"

    def binary(self, name: str) -> Path:
        return self.bin / name

    @property
    def kwok_stages(self) -> Path:
        return self.bin / KWOK_STAGES

    def missing(self) -> list[str]:
        names = [name for name in ALL_BINARIES if not os.access(self.binary(name), os.X_OK)]
        if not self.kwok_stages.is_file():
            names.append(KWOK_STAGES)
        return names


def cache_root() -> Path:
    """Where built binaries are cached: $BERTH_SIM_CACHE, else ~/.cache/berth/sim."""
    return Path(os.environ.get("BERTH_SIM_CACHE") or Path.home() / ".cache" / "berth" / "sim")


def cache_layout() -> CacheLayout:
    return CacheLayout(cache_root() / versions_key())


DEFAULT_SIM = "default"
_SIM_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?")


def default_state_dir() -> Path:
    base = os.environ.get("BERTH_DATA_DIR") or str(Path.home() / ".local" / "share" / "berth")
    return Path(base) / "sim"


def check_sim_name(name: str) -> str:
    """A sim's name: a DNS label of at most 32 characters (it names folders and a context)."""
    if not _SIM_NAME.fullmatch(name):
        raise ValueError(
            f"sim name {name!r}: use 1-32 lowercase letters, digits and '-', "
            "starting and ending with a letter or digit"
        )
    return name


def state_dir(name: str = DEFAULT_SIM) -> Path:
    """The state folder of the sim called `name`: the default one keeps `<data>/sim`; others
    live side by side in `<data>/sims/<name>`, each with its own ports, etcd and PKI."""
    if check_sim_name(name) == DEFAULT_SIM:
        return default_state_dir()
    return default_state_dir().parent / "sims" / name


def sim_names() -> list[str]:
    """Every sim with a state folder (running or not), the default first."""
    found = [DEFAULT_SIM] if default_state_dir().is_dir() else []
    others = default_state_dir().parent / "sims"
    if others.is_dir():
        named = (p.name for p in others.iterdir() if p.is_dir())
        found += sorted(n for n in named if _SIM_NAME.fullmatch(n))
    return found
