"""The berth image installs exactly what pyproject.toml pins: images/berth/constraints.txt (the
image's whole dependency closure) must agree with every direct pin, or the image would run
other versions than the tests do."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _name(requirement: str) -> str:
    return re.sub(r"[-_.]+", "-", requirement.split("[")[0]).lower()


def _pins(lines: list[str]) -> dict[str, str]:
    pins = {}
    for line in lines:
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"not pinned: {line}"
            pins[_name(name)] = version
    return pins


def test_the_images_constraints_pin_every_direct_dependency_at_pyprojects_version() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    direct = _pins(project["dependencies"])
    closure = _pins((ROOT / "images" / "berth" / "constraints.txt").read_text().splitlines())
    assert {name: closure.get(name) for name in direct} == direct
