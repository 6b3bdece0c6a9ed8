"""Synthetic demo artifacts: deterministic bytes for the demo catalog's models.

The demo catalog (`berth/pools/catalog.yaml`) lists three small *synthetic* models, one per
format, so that staging can be watched end to end on `make run` without a network: their files
are not weights, only bytes derived from their names (SHAKE-256 of `berth-demo:<model>/<path>`),
so their sizes and sha256 in the catalog are true and checkable. `berth cache demo-source`
serves them over HTTP (with Range, and an optional rate limit so progress is visible).
"""

from __future__ import annotations

import hashlib


def demo_bytes(model: str, path: str, size: int) -> bytes:
    """The content of a demo file: the first `size` bytes of SHAKE-256 of its name."""
    return hashlib.shake_256(f"berth-demo:{model}/{path}".encode()).digest(size)
