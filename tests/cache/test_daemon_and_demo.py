"""`berth cache-agent`'s options (roots and credentials per node, watermarks) and the demo
source (`berth cache demo-source`): its files are the demo catalog's, with Range."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import httpx
import pytest

from berth.cache.daemon import Options, amount, configs, node_path
from berth.cache.demo import demo_server
from berth.catalog import load_catalog_file


def test_several_nodes_get_a_root_each(tmp_path: Path) -> None:
    assert node_path(str(tmp_path), "n1", several=True) == tmp_path / "n1"
    assert node_path(str(tmp_path), "n1", several=False) == tmp_path
    assert node_path(f"{tmp_path}/{{node}}/x", "n1", several=True) == tmp_path / "n1" / "x"
    made = configs(Options(nodes=("a", "b"), root=str(tmp_path), capacity="10Gi"))
    assert [c.root for c in made] == [tmp_path / "a", tmp_path / "b"]
    assert made[0].capacity == 10 << 30
    assert made[0].high == int(0.9 * (10 << 30))
    assert made[0].low == int(0.8 * (10 << 30))


def test_watermarks_are_fractions_or_bytes(tmp_path: Path) -> None:
    assert amount("0.5", 1000) == 500
    assert amount("1Ki", 1 << 20) == 1024
    made = configs(Options(nodes=("a",), root=str(tmp_path), high_watermark="1"))
    assert made[0].capacity > 0  # the filesystem's size
    assert made[0].high == made[0].capacity
    with pytest.raises(ValueError, match="watermarks"):
        configs(Options(nodes=("a",), root=str(tmp_path), high_watermark="0.5"))


def test_the_demo_source_serves_the_demo_catalog_with_range() -> None:
    catalog = load_catalog_file()
    server = demo_server(catalog, port=0)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        model = catalog.model("demo-triton-tiny")
        assert model is not None
        with httpx.Client(trust_env=False) as client:
            for f in model.files:
                body = client.get(f"{server.url}/{model.id}/{f.path}").content
                assert len(body) == f.size
                assert hashlib.sha256(body).hexdigest() == f.sha256
            part = client.get(
                f"{server.url}/{model.id}/demo/config.pbtxt", headers={"Range": "bytes=500-"}
            )
            assert part.status_code == 206
            assert part.headers["content-range"] == "bytes 500-511/512"
            assert len(part.content) == 12
            assert client.get(f"{server.url}/nothing/here").status_code == 404
    finally:
        server.shutdown()
        server.server_close()
