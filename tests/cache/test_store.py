"""The disk store on its own: one filesystem, the trash emptied at start, a lost state file
costs a re-hash and not a download, a tree from another catalog entry does not match."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from berth.cache.store import Store, StoreError, fingerprint
from berth.domain.catalog import HttpSource, Model, ModelFile, ModelFormat

DATA = b"weights" * 100


def _model(data: bytes = DATA) -> Model:
    f = ModelFile("sub/w.bin", len(data), hashlib.sha256(data).hexdigest())
    return Model("m", ModelFormat.HUGGINGFACE, (f,), (HttpSource("http://x"),))


def _publish(store: Store, model: Model, data: bytes = DATA) -> None:
    staged = store.staged(model, model.files[0].path)
    staged.parent.mkdir(parents=True)
    staged.write_bytes(data)
    store.publish(model)


def test_cache_and_staging_must_be_one_filesystem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(tmp_path)
    real = os.stat

    class Other:
        st_dev = -1

    monkeypatch.setattr(os, "stat", lambda p, *a, **k: Other if p == store.staging else real(p))
    with pytest.raises(StoreError, match="different filesystems"):
        store.prepare()


def test_publish_is_one_rename_and_the_trash_is_emptied_at_start(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.prepare()
    model = _model()
    _publish(store, model)
    assert (tmp_path / "cache/models/m/sub/w.bin").read_bytes() == DATA
    assert not store.staging_dir(model).exists()
    assert store.matches(model) is None
    (store.trash / "leftover.1234").mkdir()
    Store(tmp_path).prepare()
    assert list(store.trash.iterdir()) == []


def test_a_lost_state_file_costs_a_rehash_not_a_download(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.prepare()
    model = _model()
    _publish(store, model)
    store.state_file.write_text("{not json")
    assert store.matches(model) is None  # re-hashed, and recorded again
    assert store.recorded()["m"].fingerprint == fingerprint(model)
    store.state_file.unlink()
    (tmp_path / "cache/models/m/sub/w.bin").write_bytes(b"x" * len(DATA))
    assert store.matches(model) == "sub/w.bin: sha256 differs from the catalog's"


def test_a_tree_from_another_catalog_entry_does_not_match(tmp_path: Path) -> None:
    store = Store(tmp_path)
    store.prepare()
    _publish(store, _model())
    assert store.matches(_model(b"other" * 140)) == "published from another catalog entry"
    store.remove("m")
    assert not (tmp_path / "cache/models/m").exists()
    assert store.recorded()["m"].fingerprint is None
