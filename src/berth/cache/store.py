"""The node's cache on disk: published trees, staging trees, the agent's small state file.

```
<root>/cache/models/<id>/...          published: complete, verified, fsynced; one rename made it
<root>/staging/models/<id>@<fp>/      one staging tree per model and catalog entry:
    partial/<path>                      files being downloaded (kept across restarts: resume)
    tree/<path>                         files complete, hashed and fsynced
<root>/staging/trash/                 trees on their way out (renamed out of cache/ first)
<root>/staging/state.json             per model: catalog fingerprint of the published tree,
                                      last used; the measured bandwidth
```

`<fp>` is the first 12 hex of the sha256 of the model's file list: a catalog change gives a new
staging tree, and a published tree whose recorded fingerprint differs is re-staged. `cache/`
and `staging/` must be on one filesystem (checked with `st_dev`) so that publishing is one
`rename(2)`. Nothing here keeps state in memory that the disk does not have.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from berth.domain.catalog import MODELS_DIR, Model

HASH_CHUNK = 1 << 20


class StoreError(RuntimeError):
    pass


def fingerprint(model: Model) -> str:
    """What identifies a model's tree: its files with sizes and hashes."""
    text = json.dumps([[f.path, f.size, f.sha256] for f in model.files], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def tree_bytes(path: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            with contextlib.suppress(FileNotFoundError):
                total += os.lstat(os.path.join(dirpath, name)).st_size
    return total


@dataclass(frozen=True)
class Recorded:
    fingerprint: str | None  # of the published tree; None: not published by this agent
    last_used: float | None


class Store:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.models = root / "cache" / MODELS_DIR
        self.staging = root / "staging"
        self.trash = self.staging / "trash"
        self.state_file = self.staging / "state.json"
        self._state_lock = threading.Lock()  # read-modify-write of state.json, one at a time

    def prepare(self) -> None:
        """Create the layout, check it is one filesystem, empty the trash."""
        for d in (self.models, self.staging / MODELS_DIR, self.trash):
            d.mkdir(parents=True, exist_ok=True)
        if os.stat(self.models).st_dev != os.stat(self.staging).st_dev:
            raise StoreError(
                f"{self.models} and {self.staging} are on different filesystems: "
                "publishing would not be one rename"
            )
        for entry in self.trash.iterdir():
            shutil.rmtree(entry, ignore_errors=True)

    # --- the state file ---------------------------------------------------------------

    def _read_state(self) -> dict[str, Any]:
        try:
            data = json.loads(self.state_file.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return {"models": {}}
        if not isinstance(data, dict) or not isinstance(data.get("models"), dict):
            return {"models": {}}
        return data

    def _write_state(self, data: dict[str, Any]) -> None:
        tmp = self.staging / f".state.{uuid.uuid4().hex}.tmp"
        with tmp.open("w", encoding="utf-8") as f:
            json.dump(data, f, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.state_file)

    def recorded(self) -> dict[str, Recorded]:
        models = self._read_state()["models"]
        return {
            m: Recorded(v.get("fingerprint"), v.get("last_used"))
            for m, v in models.items()
            if isinstance(v, dict)
        }

    def record(
        self,
        model: str,
        *,
        fingerprint: str | None = None,
        last_used: float | None = None,
        drop_fingerprint: bool = False,
    ) -> None:
        with self._state_lock:
            data = self._read_state()
            entry = data["models"].setdefault(model, {})
            if fingerprint is not None:
                entry["fingerprint"] = fingerprint
            if drop_fingerprint:
                entry.pop("fingerprint", None)
            if last_used is not None:
                entry["last_used"] = max(last_used, entry.get("last_used") or 0.0)
            self._write_state(data)

    def touch_many(self, models: set[str], now: float) -> None:
        """Last used = now for each model (one write)."""
        if not models:
            return
        with self._state_lock:
            data = self._read_state()
            for m in models:
                data["models"].setdefault(m, {})["last_used"] = now
            self._write_state(data)

    def bandwidth(self) -> float | None:
        value = self._read_state().get("bandwidth")
        return float(value) if isinstance(value, int | float) else None

    def record_bandwidth(self, value: float) -> None:
        with self._state_lock:
            data = self._read_state()
            data["bandwidth"] = value
            self._write_state(data)

    # --- published trees --------------------------------------------------------------

    def published(self) -> dict[str, int]:
        """Every tree under cache/models and its bytes on disk."""
        return {
            d.name: tree_bytes(d)
            for d in sorted(self.models.iterdir())
            if d.is_dir() and not d.name.startswith(".")
        }

    def tree(self, model_id: str) -> Path:
        return self.models / model_id

    def matches(self, model: Model, *, rehash: bool = False) -> str | None:
        """None when the published tree is exactly the catalog entry (the same files with the
        same sizes, published from this entry; with `rehash`, also every sha256), else why not.
        A tree with no record (state.json lost) is re-hashed, and recorded if it matches."""
        tree = self.tree(model.id)
        recorded = self.recorded().get(model.id)
        known = recorded.fingerprint if recorded is not None else None
        if known is not None and known != fingerprint(model):
            return "published from another catalog entry"
        unrecorded = known is None
        rehash = rehash or unrecorded
        expected = {f.path: f for f in model.files}
        found: dict[str, int] = {}
        for dirpath, _dirs, files in os.walk(tree):
            for name in files:
                full = Path(dirpath, name)
                found[full.relative_to(tree).as_posix()] = full.lstat().st_size
        if set(found) != set(expected):
            return "its files are not the catalog's"
        for path, f in expected.items():
            if found[path] != f.size:
                return f"{path}: {found[path]} bytes, the catalog says {f.size}"
            if rehash and sha256_file(tree / path) != f.sha256:
                return f"{path}: sha256 differs from the catalog's"
        if unrecorded:
            self.record(model.id, fingerprint=fingerprint(model))
        return None

    def remove(self, model_id: str) -> None:
        """Take a published tree away: one rename out of cache/ (sessions see it whole or not
        at all), then delete it from the trash."""
        tree = self.tree(model_id)
        if not tree.exists():
            return
        gone = self.trash / f"{model_id}.{uuid.uuid4().hex[:8]}"
        os.rename(tree, gone)
        fsync_dir(self.models)
        self.record(model_id, drop_fingerprint=True)
        shutil.rmtree(gone, ignore_errors=True)

    # --- staging ----------------------------------------------------------------------

    def staging_dir(self, model: Model) -> Path:
        return self.staging / MODELS_DIR / f"{model.id}@{fingerprint(model)}"

    def partial(self, model: Model, path: str) -> Path:
        return self.staging_dir(model) / "partial" / path

    def staged(self, model: Model, path: str) -> Path:
        return self.staging_dir(model) / "tree" / path

    def staged_bytes(self, model: Model) -> int:
        """Bytes of the model already on disk in staging (complete files and partial ones)."""
        d = self.staging_dir(model)
        return tree_bytes(d) if d.exists() else 0

    def clean_staging(self, keep: set[str]) -> None:
        """Delete staging trees whose name (`<id>@<fp>`) is not in `keep`."""
        for d in (self.staging / MODELS_DIR).iterdir():
            if d.name not in keep:
                shutil.rmtree(d, ignore_errors=True)

    def publish(self, model: Model) -> None:
        """fsync every directory of the staged tree, then rename it into cache/models/<id> in
        one step (replacing a stale tree there only after moving it out whole)."""
        staged = self.staging_dir(model) / "tree"
        for f in model.files:
            if not (staged / f.path).is_file():
                raise StoreError(f"{model.id}: {f.path} is not staged")
        for dirpath, _dirs, _files in os.walk(staged, topdown=False):
            fsync_dir(Path(dirpath))
        self.remove(model.id)
        # the fingerprint goes first: a crash between the two leaves a tree the next start
        # checks (files and sizes) and accepts, never one accepted without a record
        self.record(model.id, fingerprint=fingerprint(model))
        os.rename(staged, self.tree(model.id))
        fsync_dir(self.models)
        shutil.rmtree(self.staging_dir(model), ignore_errors=True)

    def used_bytes(self) -> int:
        return tree_bytes(self.models) + tree_bytes(self.staging / MODELS_DIR)
