"""The sim's Go components serve /debug/pprof only when BERTH_SIM_PROFILING=1 asks for it."""

from __future__ import annotations

from pathlib import Path

import pytest

from berth.sim import components
from berth.sim.pki import Pki
from berth.sim.state import Paths
from berth.sim.versions import CacheLayout


def _command_lines(tmp_path: Path) -> list[list[str]]:
    cache, paths, pki = CacheLayout(tmp_path / "cache"), Paths(tmp_path / "sim"), Pki(tmp_path)
    return [
        components.apiserver(cache, paths, pki, 6443, 2379),
        components.controller_manager(cache, paths, pki, 10257),
        components.scheduler(cache, paths, 10259),
    ]


@pytest.mark.parametrize(
    ("value", "flag"),
    [(None, "--profiling=false"), ("0", "--profiling=false"), ("1", "--profiling=true")],
)
def test_profiling_follows_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str | None, flag: str
) -> None:
    if value is None:
        monkeypatch.delenv(components.PROFILING_ENV, raising=False)
    else:
        monkeypatch.setenv(components.PROFILING_ENV, value)
    for argv in _command_lines(tmp_path):
        assert [a for a in argv if a.startswith("--profiling=")] == [flag], argv[0]
