"""`berth render gpu-operator`: the GPU Operator configuration the pool file implies.

Two checks tie it to booking: hand-written golden ConfigMaps for the reference C845A, and a
property over any valid pool file: the Kubernetes slots the rendered configs make on each node
(MIG instances x replicas per MIG resource, whole GPUs x replicas for nvidia.com/gpu) are the
slots the scheduler books (`Pool.kinds()`: units x replicas).
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from berth.cli import app
from berth.config import check_pool_text, load_pool_file
from berth.domain.mig import MIG_MODELS
from berth.domain.pool import Gpu, Mig, Node, Pool
from berth.install import gpu_operator as go

GOLDEN = Path(__file__).parent / "golden"
LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$")
runner = CliRunner()


def documents(text: str) -> dict[str, dict[str, Any]]:
    """The rendered documents by kind/name, with the configs inside ConfigMaps parsed."""
    out: dict[str, dict[str, Any]] = {}
    for doc in yaml.safe_load_all(text):
        if doc["kind"] == "ConfigMap":
            doc["data"] = {k: yaml.safe_load(v) for k, v in doc["data"].items()}
        out[f"{doc['kind']}/{doc['metadata']['name']}"] = doc
    return out


def golden(name: str) -> dict[str, Any]:
    (doc,) = documents((GOLDEN / name).read_text()).values()
    return doc


def labels_of(text: str) -> dict[str, dict[str, str]]:
    """The node labels from the `# RUN: kubectl label node ...` lines."""
    out: dict[str, dict[str, str]] = {}
    for line in text.splitlines():
        m = re.fullmatch(r"# RUN: kubectl label node (\S+) (.*) --overwrite", line)
        if m:
            out[m[1]] = dict(pair.split("=", 1) for pair in m[2].split())
    return out


def test_c845a_matches_the_hand_written_configmaps() -> None:
    rendered = documents(go.render(load_pool_file()))
    assert rendered["ConfigMap/custom-mig-config"] == golden("c845a-custom-mig-config.yaml")
    assert rendered["ConfigMap/time-slicing-config"] == golden("c845a-time-slicing-config.yaml")
    assert rendered["ClusterPolicy/cluster-policy"] == golden("c845a-cluster-policy.yaml")


def test_c845a_node_labels_name_the_configs() -> None:
    text = go.render(load_pool_file())
    assert labels_of(text) == {
        "ucs-c845a-01": {
            "nvidia.com/mig.config": "1g.24gbx4-gpu0_whole-gpu1",
            "nvidia.com/device-plugin.config": "gpu-x4_mig-1g.24gb-x2",
        }
    }


# ---- the property: rendered slots == booked slots -------------------------------------------


def slots_from_rendered(text: str) -> dict[str, Counter[str]]:
    """Per node, the slots of each resource the GPU Operator would advertise, read only from
    the rendered text (as the MIG manager and the device plugin would read it)."""
    docs = documents(text)
    mig_configs = docs["ConfigMap/custom-mig-config"]["data"]["config.yaml"]
    assert mig_configs["version"] == "v1"
    plugin_configs = docs["ConfigMap/time-slicing-config"]["data"]
    policy = docs["ClusterPolicy/cluster-policy"]["spec"]
    assert policy["mig"] == {"strategy": "mixed"}
    assert policy["migManager"]["config"]["name"] == "custom-mig-config"
    assert policy["devicePlugin"]["config"]["name"] == "time-slicing-config"
    assert policy["devicePlugin"]["config"].get("default") in (None, *plugin_configs)
    out: dict[str, Counter[str]] = {}
    for node, labels in labels_of(text).items():
        assert all(LABEL_VALUE.match(v) for v in labels.values()), labels
        plugin = plugin_configs[labels["nvidia.com/device-plugin.config"]]
        assert plugin["version"] == "v1"
        assert plugin["flags"]["migStrategy"] == "mixed"
        sharing = plugin.get("sharing", {}).get("timeSlicing", {"resources": []})
        assert sharing.get("renameByDefault", False) is False
        replicas = {r["name"]: r["replicas"] for r in sharing["resources"]}
        slots: Counter[str] = Counter()
        seen: list[int] = []
        for entry in mig_configs["mig-configs"][labels["nvidia.com/mig.config"]]:
            seen += entry["devices"]
            for _ in entry["devices"]:
                if entry["mig-enabled"]:
                    for profile, count in entry["mig-devices"].items():
                        resource = f"nvidia.com/mig-{profile}"
                        slots[resource] += count * replicas.get(resource, 1)
                else:
                    slots["nvidia.com/gpu"] += replicas.get("nvidia.com/gpu", 1)
        assert len(seen) == len(set(seen)), "a GPU is in two entries"
        out[node] = slots
    return out


def booked_slots(pool: Pool) -> Counter[str]:
    """What the scheduler books: every kind's units x replicas, as its Kubernetes resource."""
    return Counter({k.resource: k.units * k.replicas for k in pool.kinds().values()})


PROFILE_MODELS = [(m, p, n) for m in MIG_MODELS for p, n in m.profiles.items()]


@st.composite
def pool_files(draw: st.DrawFn) -> str:
    """Any valid pool file: 1-3 pools of 1-3 nodes, each with 0-8 GPUs at distinct indices,
    whole or MIG (a profile the model offers, or any profile of a model not in the table),
    with replicas shared by every GPU of one kind in a pool."""
    pools = []
    node_names = iter(f"node-{i}" for i in range(100))
    for p in range(draw(st.integers(1, 3))):
        replicas: dict[str, int] = {}

        def reps(kind: str, replicas: dict[str, int] = replicas) -> int:
            return replicas.setdefault(kind, draw(st.integers(1, 8)))

        nodes = []
        for _ in range(draw(st.integers(1, 3))):
            indices = draw(st.lists(st.integers(0, 15), max_size=8, unique=True))
            gpus = []
            for index in indices:
                choice = draw(st.integers(0, 2))
                if choice == 0:  # whole
                    gpus.append(
                        {"index": index, "model": "L40S", "memory": "48Gi", "replicas": reps("gpu")}
                    )
                elif choice == 1:  # a profile from the table
                    model, profile, most = draw(st.sampled_from(PROFILE_MODELS))
                    gpus.append(
                        {
                            "index": index,
                            "model": model.family,
                            "memory": f"{model.memory_gb}Gi",
                            "mig": {"profile": profile, "count": draw(st.integers(1, most))},
                            "replicas": reps(f"mig-{profile}"),
                        }
                    )
                else:  # a model Berth cannot check: accepted with a warning
                    profile = f"{draw(st.integers(1, 7))}g.{draw(st.integers(1, 200))}gb"
                    gpus.append(
                        {
                            "index": index,
                            "model": "Future GPU",
                            "memory": "200Gi",
                            "mig": {"profile": profile, "count": draw(st.integers(1, 7))},
                            "replicas": reps(f"mig-{profile}"),
                        }
                    )
            nodes.append(
                {
                    "name": next(node_names),
                    "cpu": 64,
                    "memory": "512Gi",
                    "storage_class": "local",
                    "gpus": gpus,
                }
            )
        pools.append({"name": f"pool-{p}", "nodes": nodes})
    return yaml.safe_dump({"pools": pools})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pool_files())
def test_rendered_slots_are_the_booked_slots(text: str) -> None:
    pools, _ = check_pool_text(text)  # valid by construction; warnings allowed
    rendered = slots_from_rendered(go.render(pools))
    for pool in pools:
        total: Counter[str] = Counter()
        for node in pool.nodes:
            # per node: what the scheduler would book for a pool of just this node
            want = booked_slots(Pool(pool.name, (node,)))
            assert rendered.get(node.name, Counter()) == want, node
            total += want
        # per pool: the sum over nodes is the pool's bookable capacity in slots
        assert total == booked_slots(pool)


# ---- names ----------------------------------------------------------------------------------


def _node(*gpus: Gpu) -> Node:
    return Node("n", 1000, 2**30, "s", gpus)


def test_layout_names_say_what_they_are_and_stay_valid_label_values() -> None:
    half = _node(
        *(Gpu(i, "H100", 80 * 2**30, 1) for i in range(4)),
        *(Gpu(i, "H100", 80 * 2**30, 2, Mig("3g.40gb", 2)) for i in range(4, 8)),
    )
    assert go.mig_config_name(half) == "whole-gpu0-3_3g.40gbx2-gpu4-7"
    assert go.device_plugin_config_name(half) == "gpu-x1_mig-3g.40gb-x2"
    gaps = _node(Gpu(1, "A100", 40 * 2**30, 1), Gpu(3, "A100", 40 * 2**30, 1))
    assert go.mig_config_name(gaps) == "whole-gpu1.3"
    # too long for a label value: a hash of the content, stable and valid
    mixed = _node(
        *(
            Gpu(i, "H100", 80 * 2**30, 1, Mig(f"{i % 3 + 1}g.{10 * (i % 3 + 1)}gb", 1))
            for i in range(24)
        )
    )
    name = go.mig_config_name(mixed)
    assert name.startswith("layout-")
    assert LABEL_VALUE.match(name)
    assert name == go.mig_config_name(mixed)


def test_unshared_resources_are_not_listed_and_gpu_less_nodes_get_no_labels() -> None:
    (pool,) = check_pool_text(
        "pools:\n  - name: a\n    nodes:\n"
        "      - {name: n1, cpu: 8, memory: 8Gi, storage_class: s,"
        " gpus: [{index: 0, model: H100, memory: 80Gi}]}\n"
        "      - {name: n2, cpu: 8, memory: 8Gi, storage_class: s}\n"
    )[0]
    text = go.render([pool])
    plugin = documents(text)["ConfigMap/time-slicing-config"]["data"]["gpu-x1"]
    assert plugin == {"version": "v1", "flags": {"migStrategy": "mixed"}}
    assert list(labels_of(text)) == ["n1"]


def test_the_default_device_plugin_config_is_the_most_used() -> None:
    def node(name: str, replicas: int) -> Node:
        return Node(name, 1000, 2**30, "s", (Gpu(0, "L4", 24 * 2**30, replicas),))

    p = go.plan([Pool("a", (node("a1", 2), node("a2", 2))), Pool("b", (node("b1", 3),))])
    assert p.default_device_plugin_config == "gpu-x2"
    assert set(p.device_plugin_configs) == {"gpu-x2", "gpu-x3"}


# ---- the command ----------------------------------------------------------------------------


def test_render_gpu_operator_command(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "render",
            "gpu-operator",
            "--namespace",
            "nvidia-gpu-operator",
            "--cluster-policy",
            "gpu-cluster-policy",
        ],
    )
    assert result.exit_code == 0, result.output
    docs = documents(result.stdout)
    assert docs["ConfigMap/custom-mig-config"]["metadata"]["namespace"] == "nvidia-gpu-operator"
    assert "ClusterPolicy/gpu-cluster-policy" in docs
    assert "# RUN: kubectl label node ucs-c845a-01 " in result.stdout

    bad = tmp_path / "pools.yaml"
    bad.write_text(
        "pools:\n  - name: a\n    nodes:\n      - name: n\n        cpu: 8\n        memory: 8Gi\n"
        "        storage_class: s\n        gpus:\n"
        "          - {index: 0, model: H100, memory: 80Gi, mig: {profile: 1g.24gb, count: 4}}\n"
    )
    refused = runner.invoke(app, ["render", "gpu-operator", "--pool-file", str(bad)])
    assert refused.exit_code == 2
    assert f"{bad}:9: pools.0.nodes.0.gpus.0.mig.profile" in refused.output


def test_check_pools_prints_the_warning_for_an_unknown_model(tmp_path: Path) -> None:
    path = tmp_path / "pools.yaml"
    path.write_text(
        "pools:\n  - name: a\n    nodes:\n      - name: n\n        cpu: 8\n        memory: 8Gi\n"
        "        storage_class: s\n        gpus:\n"
        "          - {index: 0, model: L40S, memory: 48Gi, mig: {profile: 1g.12gb, count: 4}}\n"
    )
    result = runner.invoke(app, ["check-pools", str(path)])
    assert result.exit_code == 0, result.output
    assert "a: 1 node(s); 4 x mig-1g.12gb (1 slots each)" in result.stdout
    assert f"warning: {path}:9: pools.0.nodes.0.gpus.0.model: GPU model 'L40S'" in result.stderr
