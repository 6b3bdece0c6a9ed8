"""The pool file's clusters: each pool names the cluster it lives on; errors name file and line."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from berth.config import check_pool_layout, load_pool_file
from berth.domain.pool import DEFAULT_CLUSTER, ClusterRef
from berth.yamlfile import FileError

NODE = "{name: NODE, cpu: 8, memory: 64Gi, storage_class: local, gpus: [{index: 0, model: L40S, memory: 48Gi}]}"


def _pool(name: str, cluster: str | None = None) -> str:
    line = f"    cluster: {cluster}\n" if cluster else ""
    return f"  - name: {name}\n{line}    nodes:\n      - {NODE.replace('NODE', name + '-n1')}\n"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pools.yaml"
    path.write_text(text)
    return path


def test_without_clusters_every_pool_is_on_the_default_cluster() -> None:
    (pool,) = load_pool_file()
    assert pool.cluster == DEFAULT_CLUSTER


def test_pools_name_their_clusters_and_kubeconfigs_are_relative_to_the_file(
    tmp_path: Path,
) -> None:
    (tmp_path / "east.kubeconfig").write_text("{}")
    path = _write(
        tmp_path,
        "clusters:\n"
        "  - name: east\n"
        "    kubeconfig: east.kubeconfig\n"
        "    context: admin@east\n"
        "pools:\n" + _pool("a") + _pool("b", "east"),
    )
    layout = check_pool_layout(path)
    assert [(p.name, p.cluster) for p in layout.pools] == [("a", "default"), ("b", "east")]
    assert layout.clusters == {
        "default": ClusterRef("default"),
        "east": ClusterRef("east", str(tmp_path / "east.kubeconfig"), "admin@east"),
    }
    assert layout.warnings == []
    assert layout.used() == ["default", "east"]


def test_a_missing_kubeconfig_is_a_warning_naming_the_line(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "clusters:\n  - name: west\n    kubeconfig: /nowhere/west\npools:\n" + _pool("a", "west"),
    )
    layout = check_pool_layout(path)
    assert layout.warnings == [
        f"{path}:3: clusters.0.kubeconfig: /nowhere/west does not exist here"
    ]
    assert layout.used() == ["west"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "pools:\n" + _pool("a", "nowhere"),
            ":3: pools.0.cluster: unknown cluster 'nowhere' (clusters: default)",
        ),
        (
            "clusters:\n  - {name: east, kubeconfig: /k}\n  - name: east\n    kubeconfig: /k\n"
            "pools:\n" + _pool("a", "east"),
            ":3: clusters.1.name: cluster 'east' is defined twice",
        ),
        (
            "clusters:\n  - name: east\npools:\n" + _pool("a", "east"),
            ":2: clusters.0: cluster 'east' needs a kubeconfig (only `default` is found by itself)",
        ),
        (
            "clusters:\n  - {name: East_1, kubeconfig: /k}\npools:\n" + _pool("a"),
            ":2: clusters.0.name: String should match pattern",
        ),
        (
            "clusters:\n  - {name: east, kubeconfig: /k, token: x}\npools:\n" + _pool("a"),
            ":2: clusters.0.token: Extra inputs are not permitted",
        ),
    ],
)
def test_cluster_errors_name_line_and_field(tmp_path: Path, text: str, expected: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(FileError) as err:
        check_pool_layout(path)
    assert any(str(path) + expected in line for line in str(err.value).splitlines()), str(err.value)


def test_the_default_cluster_may_be_given_a_kubeconfig(tmp_path: Path) -> None:
    (tmp_path / "k").write_text("{}")
    path = _write(
        tmp_path, "clusters:\n  - {name: default, kubeconfig: k, context: c}\npools:\n" + _pool("a")
    )
    layout = check_pool_layout(path)
    assert layout.clusters == {"default": ClusterRef("default", str(tmp_path / "k"), "c")}


def test_check_pools_names_the_cluster_and_warns_of_a_missing_kubeconfig(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from berth.cli import app

    path = _write(
        tmp_path,
        "clusters:\n  - {name: west, kubeconfig: west.kubeconfig}\npools:\n" + _pool("a", "west"),
    )
    result = CliRunner().invoke(app, ["check-pools", str(path)])
    assert result.exit_code == 0, result.output
    assert "a: 1 node(s) on cluster west; 1 x gpu (1 slots each)" in result.stdout
    assert f"{path}:2: clusters.0.kubeconfig: {tmp_path / 'west.kubeconfig'} does not exist" in (
        result.stderr
    )
    bad = CliRunner().invoke(
        app, ["check-pools", str(_write(tmp_path, "pools:\n" + _pool("a", "x")))]
    )
    assert bad.exit_code == 2
    assert ":3: pools.0.cluster: unknown cluster 'x'" in bad.stderr


@pytest.mark.parametrize(
    ("kubeconfig", "args", "expected"),
    [
        ("", ["--cluster", "nowhere"], "--cluster nowhere: not in the pool file (clusters:"),
        ("", [], "cluster 'east': kubeconfig {folder}/east.kubeconfig does not exist"),
        ("not: [a kubeconfig", [], "cluster 'east': kubeconfig {folder}/east.kubeconfig"),
    ],
)
def test_reconcile_refuses_to_start_without_a_way_to_each_cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kubeconfig: str, args: list[str], expected: str
) -> None:
    """Checked before the database is opened: nothing starts, nothing changes."""
    from typer.testing import CliRunner

    from berth.cli import app

    if kubeconfig:
        (tmp_path / "east.kubeconfig").write_text(kubeconfig)
    path = _write(
        tmp_path,
        "clusters:\n  - {name: east, kubeconfig: east.kubeconfig}\npools:\n" + _pool("a", "east"),
    )
    monkeypatch.setenv("BERTH_POOL_FILE", str(path))
    monkeypatch.setenv("BERTH_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    result = CliRunner().invoke(app, ["reconcile", "--once", *args])
    assert result.exit_code == 2, result.output
    assert expected.format(folder=tmp_path) in result.stderr


def test_berth_up_drives_each_named_cluster_and_names_one_it_cannot_reach(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`berth up` adds a reconciler thread per cluster of the pool file besides `default`; a
    missing kubeconfig is said on the terminal and the portal serves on."""
    from berth.cli import _other_clusters
    from berth.config import Settings
    from berth.store.db import Database

    (tmp_path / "east.kubeconfig").write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: e\n"
        "clusters: [{name: e, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        "users: [{name: e, user: {token: t}}]\n"
        "contexts: [{name: e, context: {cluster: e, user: e}}]\n"
    )
    path = _write(
        tmp_path,
        "clusters:\n  - {name: east, kubeconfig: east.kubeconfig}\n"
        "  - {name: west, kubeconfig: west.kubeconfig}\npools:\n"
        + _pool("a", "east")
        + _pool("b", "west"),
    )
    monkeypatch.setenv("BERTH_POOL_FILE", str(path))
    db = Database("postgresql+psycopg://nobody@127.0.0.1:1/none")  # never connected here
    found = _other_clusters(db, Settings(data_dir=tmp_path), threading.Event())
    try:
        assert [(t.name, one.source) for t, one in found] == [
            ("reconcile-east", f"cluster east (kubeconfig {tmp_path / 'east.kubeconfig'})")
        ]
        assert not any(t.is_alive() for t, _ in found)  # `up` starts them with the portal
        out = capsys.readouterr().out
        assert f"cluster 'west': kubeconfig {tmp_path / 'west.kubeconfig'} does not exist" in out
        assert "its pools' sessions will not start" in out
    finally:
        for _, one in found:
            one.cluster.close()


def test_two_clusters_whose_leader_locks_would_be_one_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """c3985819 and c4420602 share a CRC-32 (31 bits): one leader lock for both would leave one
    of them undriven for good, so the reconciler says so instead of starting."""
    from typer.testing import CliRunner

    from berth.cli import app
    from berth.store.locks import reconciler_key

    assert reconciler_key("c3985819") == reconciler_key("c4420602")
    (tmp_path / "k").write_text("{}")
    path = _write(
        tmp_path,
        "clusters:\n  - {name: c3985819, kubeconfig: k}\n  - {name: c4420602, kubeconfig: k}\n"
        "pools:\n" + _pool("a", "c3985819") + _pool("b", "c4420602"),
    )
    monkeypatch.setenv("BERTH_POOL_FILE", str(path))
    result = CliRunner().invoke(app, ["reconcile", "--once"])
    assert result.exit_code == 2, result.output
    assert "clusters 'c3985819' and 'c4420602' hash to one leader lock" in result.stderr


def test_berth_up_takes_the_default_clusters_kubeconfig_from_the_pool_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from berth.cli import _default_cluster
    from berth.config import Settings

    settings = Settings(data_dir=tmp_path)
    missing = ClusterRef("default", str(tmp_path / "nowhere"))
    assert _default_cluster(missing, settings) is None
    assert "does not exist" in capsys.readouterr().out
    (tmp_path / "home").write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: h\n"
        "clusters: [{name: h, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        "users: [{name: h, user: {token: t}}]\n"
        "contexts: [{name: h, context: {cluster: h, user: h}}]\n"
    )
    found = _default_cluster(ClusterRef("default", str(tmp_path / "home")), settings)
    assert found is not None
    try:
        assert found.source == f"cluster default (kubeconfig {tmp_path / 'home'})"
    finally:
        found.cluster.close()
