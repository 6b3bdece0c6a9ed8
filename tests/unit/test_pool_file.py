"""The pool file: the reference C845A, derived kinds, and errors that name file, line, field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from berth.config import (
    MigFile,
    check_pool_file,
    check_pool_text,
    load_pool_file,
    load_pool_text,
)
from berth.domain.mig import MIG_MODELS
from berth.domain.pool import kube_resource
from berth.domain.quantity import QuantityError, format_bytes, parse_bytes, parse_millicores
from berth.yamlfile import FileError


def test_reference_pool_kinds_and_capacity() -> None:
    (pool,) = load_pool_file()
    kinds = pool.kinds()
    assert {k: (v.units, v.replicas) for k, v in kinds.items()} == {
        "mig-1g.24gb": (4, 2),
        "gpu": (1, 4),
    }
    assert kinds["mig-1g.24gb"].resource == "nvidia.com/mig-1g.24gb"
    assert kube_resource("gpu") == "nvidia.com/gpu"
    cap = pool.capacity()
    assert cap["cpu"] == 127_000
    assert cap["memory"] == 754 * 2**30


SEVERAL = """
pools:
  - name: a
    nodes:
      - {name: n1, cpu: 64, memory: 512Gi, storage_class: local, gpus: [{index: 0, model: H100, memory: 80Gi, replicas: 2}]}
      - {name: n2, cpu: 64, memory: 512Gi, storage_class: local, gpus: [{index: 0, model: H100, memory: 80Gi, replicas: 2}, {index: 1, model: H100, memory: 80Gi, mig: {profile: 3g.40gb, count: 2}, replicas: 1}]}
  - name: b
    nodes:
      - {name: n3, cpu: 8, memory: 64Gi, storage_class: local}
"""


def test_several_pools_and_nodes_add_up() -> None:
    a, b = load_pool_text(SEVERAL)
    assert a.capacity() == {"gpu": 2, "mig-3g.40gb": 2, "cpu": 128_000, "memory": 1024 * 2**30}
    assert b.kinds() == {}
    # without configured defaults, a unit gets an even share of the pool
    assert a.defaults_for("gpu").cpu_millicores == 32_000


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "pools:\n  - name: a\n    nodes:\n      - name: n\n        cpu: -4\n        memory: 1Gi\n        storage_class: x\n",
            "<string>:5: pools.0.nodes.0.cpu: Value error",
        ),
        (
            "pools:\n  - name: a\n    nodes:\n      - name: n\n        cpu: 4\n        memory: 1Gb\n        storage_class: x\n",
            "<string>:6: pools.0.nodes.0.memory: Value error, '1Gb': unknown unit",
        ),
        (
            "pools:\n  - name: a\n    nodes:\n      - name: n\n        cpu: 4\n        memory: 1Gi\n        storage_class: x\n        gpus:\n          - {index: 0, model: m, memory: 8Gi, replicas: 0}\n",
            "<string>:9: pools.0.nodes.0.gpus.0.replicas: Input should be greater than or equal to 1",
        ),
        (
            "pools:\n  - name: a\n    nodes: []\n",
            "<string>:3: pools.0.nodes: List should have at least 1 item",
        ),
        ("pools:\n  - name: A!\n", "<string>:2: pools.0.name: String should match pattern"),
        (
            "pools:\n  - name: a\n    nodez: []\n",
            "<string>:3: pools.0.nodez: Extra inputs are not permitted",
        ),
        ("pools: [\n", "<string>:2: not valid YAML"),
    ],
)
def test_errors_name_line_and_field(text: str, expected: str) -> None:
    with pytest.raises(FileError) as err:
        load_pool_text(text)
    assert expected in str(err.value)


def test_cross_pool_problems_are_reported() -> None:
    text = SEVERAL.replace("name: n3", "name: n1")
    with pytest.raises(FileError, match="node 'n1' is in pool 'a' and 'b'"):
        load_pool_text(text)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileError, match="cannot read"):
        load_pool_file(tmp_path / "nope.yaml")


def test_quantities() -> None:
    assert parse_bytes("754Gi") == 754 * 2**30
    assert parse_bytes("1.5Gi") == 3 * 2**29
    assert parse_bytes("2G") == 2 * 10**9
    assert parse_millicores("500m") == 500
    assert parse_millicores(16) == 16_000
    assert parse_millicores("1.5") == 1500
    assert format_bytes(128 * 2**30) == "128Gi"
    for bad in ("", "12 Gi", "-1", "1.5m"):
        with pytest.raises(QuantityError):
            parse_bytes(bad) if bad != "1.5m" else parse_millicores("0.5m")


def test_a_key_without_a_value_is_a_field_error_not_a_crash() -> None:
    text = "pools:\n  - name: a\n    nodes:\n      - name: n\n        cpu:\n        memory: 1Gi\n        storage_class: x\n"
    with pytest.raises(FileError, match=re.escape("<string>:5: pools.0.nodes.0.cpu")):
        load_pool_text(text)


# ---- MIG profiles the GPU model offers (berth.domain.mig) ------------------------------------


def _one_gpu(gpu: str) -> str:
    return (
        "pools:\n  - name: a\n    nodes:\n      - name: n\n        cpu: 8\n        memory: 64Gi\n"
        f"        storage_class: x\n        gpus:\n          - {gpu}\n"
    )


@pytest.mark.parametrize(
    ("gpu", "expected"),
    [
        (
            "{index: 0, model: H100, memory: 80Gi, mig: {profile: 1g.24gb, count: 4}}",
            "<string>:9: pools.0.nodes.0.gpus.0.mig.profile: H100 80GB offers no MIG profile 1g.24gb",
        ),
        (
            "{index: 0, model: RTX PRO 6000 Blackwell, memory: 96Gi, mig: {profile: 1g.24gb, count: 5}}",
            "<string>:9: pools.0.nodes.0.gpus.0.mig.count: RTX PRO 6000 Blackwell 96GB holds at most 4 x 1g.24gb, not 5",
        ),
        (
            "{index: 0, model: RTX PRO 6000 Blackwell, memory: 96Gi, mig: {profile: 3g.72gb, count: 1}}",
            "mig.profile: RTX PRO 6000 Blackwell 96GB offers no MIG profile 3g.72gb; it offers 1g.24gb (x4), 2g.48gb (x2), 4g.96gb (x1)",
        ),
        (
            "{index: 0, model: A100, memory: 40Gi, mig: {profile: 1g.10gb, count: 7}}",
            "mig.count: A100 40GB holds at most 4 x 1g.10gb, not 7",
        ),
        (
            "{index: 0, model: NVIDIA A100-SXM4-80GB, memory: 80Gi, mig: {profile: 1g.5gb, count: 7}}",
            "mig.profile: A100 80GB offers no MIG profile 1g.5gb",
        ),
        (
            "{index: 0, model: H200 NVL, memory: 141Gi, mig: {profile: 3g.71gb, count: 3}}",
            "mig.count: H200 141GB holds at most 2 x 3g.71gb, not 3",
        ),
    ],
)
def test_mig_profiles_the_model_does_not_offer_are_refused(gpu: str, expected: str) -> None:
    with pytest.raises(FileError) as err:
        load_pool_text(_one_gpu(gpu))
    assert expected in str(err.value)


@pytest.mark.parametrize(
    "gpu",
    [
        "{index: 0, model: RTX PRO 6000 Blackwell, memory: 96Gi, mig: {profile: 2g.48gb, count: 2}}",
        "{index: 0, model: H100, memory: 80Gi, mig: {profile: 1g.10gb, count: 7}}",
        "{index: 0, model: NVIDIA H100 NVL, memory: 95830Mi, mig: {profile: 1g.24gb, count: 4}}",
        "{index: 0, model: H100, memory: 96Gi, mig: {profile: 3g.48gb, count: 2}}",
        "{index: 0, model: H200, memory: 141Gi, mig: {profile: 1g.18gb, count: 7}}",
        "{index: 0, model: A100-PCIE-40GB, memory: 40Gi, mig: {profile: 7g.40gb, count: 1}}",
        "{index: 0, model: A30, memory: 24Gi, mig: {profile: 2g.12gb, count: 2}}",
    ],
)
def test_mig_profiles_the_model_offers_pass_without_warning(gpu: str) -> None:
    pools, warnings = check_pool_text(_one_gpu(gpu))
    assert warnings == []
    assert len(pools) == 1


def test_an_unknown_model_is_accepted_with_a_warning_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "pools.yaml"
    path.write_text(
        _one_gpu("{index: 0, model: L40S, memory: 48Gi, mig: {profile: 1g.12gb, count: 4}}")
    )
    (pool,), warnings = check_pool_file(path)
    assert pool.kinds()["mig-1g.12gb"].units == 4
    assert warnings == [
        f"{path}:9: pools.0.nodes.0.gpus.0.model: GPU model 'L40S' is not in Berth's MIG table; "
        "profile 1g.12gb x4 is not checked"
    ]
    # a known family at a size the table does not have is not guessed either
    path.write_text(
        _one_gpu("{index: 0, model: H100, memory: 64Gi, mig: {profile: 1g.24gb, count: 4}}")
    )
    assert "known sizes: [80, 94, 96] GB" in check_pool_file(path)[1][0]


def test_whole_gpus_are_not_looked_up() -> None:
    _, warnings = check_pool_text(_one_gpu("{index: 0, model: L40S, memory: 48Gi}"))
    assert warnings == []


def test_the_table_is_sane() -> None:
    for row in MIG_MODELS:
        assert all(PROFILE.fullmatch(p) and 1 <= n <= 7 for p, n in row.profiles.items()), row
        assert f"{max(int(p.split('g.')[0]) for p in row.profiles)}g.{row.memory_gb}gb" in (
            row.profiles
        ), row  # the widest profile holds the whole memory


PROFILE = re.compile(MigFile.model_fields["profile"].metadata[0].pattern)


IDLE = """
pools:
  - name: a
    nodes:
      - {name: n1, cpu: 64, memory: 512Gi, storage_class: local, gpus: [{index: 0, model: H100, memory: 80Gi}]}
    idle:
      gpu: {idle_minutes: 45, answer_minutes: 15, no_show_minutes: 20}
"""


def test_an_idle_policy_per_kind_is_read_and_kinds_without_one_are_off() -> None:
    (pool,) = load_pool_text(IDLE)
    policy = pool.idle["gpu"]
    assert (policy.threshold, policy.idle_minutes, policy.answer_minutes) == (0.01, 45, 15)
    assert (policy.keep_minutes, policy.no_show_minutes) == (120, 20)
    (plain,) = load_pool_text(SEVERAL.split("  - name: b")[0])
    assert plain.idle == {}  # off by default


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (
            "mig-1g.10gb: {idle_minutes: 30}",
            "<string>:7: pools.0.idle.mig-1g.10gb: pool 'a' has no GPU kind 'mig-1g.10gb' (its kinds: gpu)",
        ),
        (
            "gpu: {threshold: 0.5}",
            "<string>:7: pools.0.idle.gpu: Value error, does nothing: set idle_minutes, no_show_minutes or both",
        ),
        (
            "gpu: {idle_minutes: 0}",
            "<string>:7: pools.0.idle.gpu.idle_minutes: Input should be greater than 0",
        ),
        (
            "gpu: {idle_minutes: 5, threshold: 1.5}",
            "<string>:7: pools.0.idle.gpu.threshold: Input should be less than 1",
        ),
        (
            "gpu: {idle_minutes: 5, keep: 3}",
            "<string>:7: pools.0.idle.gpu.keep: Extra inputs are not permitted",
        ),
    ],
)
def test_idle_policy_errors_name_line_and_field(policy: str, expected: str) -> None:
    text = IDLE.replace("gpu: {idle_minutes: 45, answer_minutes: 15, no_show_minutes: 20}", policy)
    with pytest.raises(FileError) as err:
        load_pool_text(text)
    assert str(err.value) == expected
