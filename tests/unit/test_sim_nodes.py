"""Fake nodes from the pool file: slots are physical units x replicas, names stay stable."""

from __future__ import annotations

from pathlib import Path

import pytest

from berth.config import load_pool_file
from berth.sim.build import kube_go_mod
from berth.sim.nodes import KWOK_ANNOTATION, node_manifests, storage_classes

POOL = """
pools:
  - name: c845a
    nodes:
      - name: ucs-c845a-01
        cpu: 127
        memory: 754Gi
        storage_class: lvms-vg1
        gpus:
          - {index: 0, model: RTX PRO 6000 Blackwell, memory: 96Gi,
             mig: {profile: 1g.24gb, count: 4}, replicas: 2}
          - {index: 1, model: RTX PRO 6000 Blackwell, memory: 96Gi, replicas: 4}
  - name: small
    nodes:
      - {name: box, cpu: 8, memory: 32Gi, storage_class: local}
"""


@pytest.fixture
def pool_file(tmp_path: Path) -> Path:
    path = tmp_path / "pools.yaml"
    path.write_text(POOL)
    return path


def test_reference_node_has_4_gpu_and_8_mig_slots(pool_file: Path) -> None:
    c845a, box = node_manifests(pool_file)

    assert c845a["metadata"]["name"] == "ucs-c845a-01"
    assert c845a["metadata"]["annotations"][KWOK_ANNOTATION] == "fake"
    assert c845a["status"]["capacity"] == {
        "cpu": "127",
        "memory": "754Gi",
        "pods": "110",
        "ephemeral-storage": "1Ti",
        "nvidia.com/gpu": "4",
        "nvidia.com/mig-1g.24gb": "8",
    }
    assert c845a["status"]["allocatable"] == c845a["status"]["capacity"]
    assert c845a["metadata"]["labels"]["nvidia.com/gpu.memory"] == "98304"
    assert c845a["metadata"]["labels"]["nvidia.com/mig-1g.24gb.replicas"] == "2"
    assert "nvidia.com/gpu" not in box["status"]["capacity"]
    assert "nvidia.com/gpu.present" not in box["metadata"]["labels"]


def test_multiplier_keeps_the_first_name_and_numbers_the_copies(pool_file: Path) -> None:
    names = [n["metadata"]["name"] for n in node_manifests(pool_file, 3)]

    assert names == ["ucs-c845a-01", "ucs-c845a-01-1", "ucs-c845a-01-2", "box", "box-1", "box-2"]


def test_storage_classes_are_listed_once_in_file_order(pool_file: Path) -> None:
    assert storage_classes(load_pool_file(pool_file)) == ["lvms-vg1", "local"]


def test_wrapper_go_mod_replaces_every_staging_module_with_its_tag() -> None:
    upstream = """module k8s.io/kubernetes

go 1.26.0

godebug default=go1.26

replace (
\tk8s.io/api => ./staging/src/k8s.io/api
\tk8s.io/client-go => ./staging/src/k8s.io/client-go
)
"""
    text = kube_go_mod(upstream, "v1.37.2")

    assert "require k8s.io/kubernetes v1.37.2" in text
    assert "godebug default=go1.26" in text
    assert "\tk8s.io/api => k8s.io/api v0.37.2\n" in text
    assert "\tk8s.io/client-go => k8s.io/client-go v0.37.2\n" in text
    assert "./staging" not in text
