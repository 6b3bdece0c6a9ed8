"""`berth image context DIR` replaces only a context it wrote before, never another folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from berth.images import build, pins


def test_a_folder_that_is_not_an_image_context_is_never_replaced(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not an image context"):
        build.write_context("berth", pins.repository(), tmp_path, print)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_an_unknown_image_is_refused() -> None:
    with pytest.raises(ValueError, match="one of berth, workspace"):
        build.build("nginx", print)
