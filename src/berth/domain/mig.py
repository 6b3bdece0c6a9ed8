"""Which MIG profiles a GPU model offers, and how many instances of each fit on one GPU.

A pool file that asks for a profile the GPU cannot make (an H100 sliced into `1g.24gb`) or for
more slices than fit (five `1g.24gb` on an RTX PRO 6000) would book slots the cluster never
offers. The table below lets `berth check-pools` refuse that before anything is booked.

Sources (profile names and the "number of instances available" of a GPU holding only that
profile):

- NVIDIA Multi-Instance GPU User Guide, "Supported MIG Profiles" and "Supported GPUs"
  (https://docs.nvidia.com/datacenter/tesla/mig-user-guide/): A30, A100 40GB/80GB, H100,
  H200 and RTX PRO 6000 Blackwell (at most 4 instances).
- The default configuration of NVIDIA's MIG manager (github.com/NVIDIA/mig-parted,
  `deployments/systemd/config-default.yaml`, the `all-<profile>` entries per device), which the
  GPU Operator ships: it names the H100 NVL 94GB, H100 96GB/GH200 and H200 141GB profiles.

Only plain profiles are listed: the `+me`, `+gfx`, `-me` variants are not bookable kinds in a
pool file (its schema accepts `<n>g.<m>gb` only). A model that is not in the table is accepted
with a warning: Berth cannot check it, the cluster will.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

GB = 10**9
GIB = 2**30


@dataclass(frozen=True)
class MigModel:
    """One GPU model at one memory size and the most instances of each profile it can hold."""

    family: str  # as people write it in a pool file, e.g. "H100"
    memory_gb: int  # the size in the product name (80 for an "H100 80GB")
    profiles: dict[str, int]  # profile -> most instances on one GPU


def _seven(one: int, two: int, three: int, seven: int) -> dict[str, int]:
    """The seven-slice profiles of one A100/H100/H200 size, named by memory in GB."""
    return {
        f"1g.{one}gb": 7,
        f"1g.{two}gb": 4,
        f"2g.{two}gb": 3,
        f"3g.{three}gb": 2,
        f"4g.{three}gb": 1,
        f"7g.{seven}gb": 1,
    }


MIG_MODELS: tuple[MigModel, ...] = (
    MigModel("RTX PRO 6000 Blackwell", 96, {"1g.24gb": 4, "2g.48gb": 2, "4g.96gb": 1}),
    MigModel("A30", 24, {"1g.6gb": 4, "2g.12gb": 2, "4g.24gb": 1}),
    MigModel("A100", 40, _seven(5, 10, 20, 40)),  # 1g.5gb 1g.10gb 2g.10gb 3g.20gb 4g.20gb 7g.40gb
    MigModel("A100", 80, _seven(10, 20, 40, 80)),
    MigModel("H100", 80, _seven(10, 20, 40, 80)),  # H100 SXM5/PCIe 80GB
    MigModel("H100", 94, _seven(12, 24, 47, 94)),  # H100 NVL
    MigModel("H100", 96, _seven(12, 24, 48, 96)),  # H100 96GB, GH200
    MigModel("H200", 141, _seven(18, 35, 71, 141)),  # H200 SXM and H200 NVL
)

# How far the pool file's `memory` may be from the size in the product name, in GB or GiB
# (nvidia-smi reports an "80GB" H100 as 81559 MiB, an H100 NVL as 95830 MiB).
_MEMORY_SLACK = 1.5


@dataclass(frozen=True)
class MigCheck:
    """The verdict on one MIG GPU of a pool file: an error naming a field, a warning, or neither."""

    field: str | None = None  # "profile" or "count" when refused
    error: str | None = None
    warning: str | None = None


def _tokens(model: str) -> list[str]:
    return [t for t in re.split(r"[\s_-]+", model.lower()) if t and t != "nvidia"]


def _family_of(model: str) -> str | None:
    """The table family a model name belongs to: its tokens start with the family's tokens
    ("NVIDIA H100 NVL" and "H100-SXM5-80GB" are both H100; "RTX PRO 6000 Ada" is not in the table).
    """
    tokens = _tokens(model)
    families = sorted({m.family for m in MIG_MODELS}, key=lambda f: -len(_tokens(f)))
    for family in families:
        want = _tokens(family)
        if tokens[: len(want)] == want:
            return family
    return None


def _distance(memory_bytes: int, size_gb: int) -> float:
    return min(abs(memory_bytes / GB - size_gb), abs(memory_bytes / GIB - size_gb))


def find_model(model: str, memory_bytes: int) -> MigModel | None:
    """The table row for a pool file's `model` and `memory`, or None when it is not known."""
    family = _family_of(model)
    rows = [m for m in MIG_MODELS if m.family == family]
    near = [m for m in rows if _distance(memory_bytes, m.memory_gb) <= _MEMORY_SLACK]
    return min(near, key=lambda m: _distance(memory_bytes, m.memory_gb)) if near else None


def check(model: str, memory_bytes: int, profile: str, count: int) -> MigCheck:
    """Whether `count` slices of `profile` fit on one GPU of this model."""
    row = find_model(model, memory_bytes)
    if row is None:
        sizes = sorted({m.memory_gb for m in MIG_MODELS if m.family == _family_of(model)})
        known = f" at {memory_bytes / GIB:.0f}Gi (known sizes: {sizes} GB)" if sizes else ""
        return MigCheck(
            warning=f"GPU model {model!r}{known} is not in Berth's MIG table; "
            f"profile {profile} x{count} is not checked"
        )
    name = f"{row.family} {row.memory_gb}GB"
    if profile not in row.profiles:
        offered = ", ".join(f"{p} (x{n})" for p, n in row.profiles.items())
        return MigCheck(
            field="profile", error=f"{name} offers no MIG profile {profile}; it offers {offered}"
        )
    most = row.profiles[profile]
    if count > most:
        return MigCheck(
            field="count", error=f"{name} holds at most {most} x {profile}, not {count}"
        )
    return MigCheck()
