"""The runtime plane's reconciler side, without a cluster: the session's `berth-runtime`
ConfigMap, the pre-pull DaemonSets and their image state, the plan that keeps them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from berth.catalog import load_catalog_file
from berth.config import load_pool_file
from berth.domain.catalog import Catalog
from berth.domain.session import SessionConfig
from berth.install import mirror
from berth.kube.manifests import prepull as manifests
from berth.kube.manifests import session_steps
from berth.kube.prepull import ImageState, node_images
from berth.reconciler.plan import ApplyPrepull, DeletePrepull, prepull
from tests.unit.test_manifests import make_spec

POOLS = load_pool_file(Path(__file__).resolve().parents[1] / "kube" / "pool.yaml")
CATALOG = load_catalog_file()
CFG = SessionConfig()


def test_the_runtime_config_map_describes_engines_models_gpu_and_proxy() -> None:
    spec = make_spec(cfg=SessionConfig(https_proxy="http://proxy:3128"))
    spec = type(spec)(**{**spec.__dict__, "catalog": CATALOG})
    (config,) = [
        o
        for _, objs in session_steps(spec, openshift=False, password="pw")
        for o in objs
        if o["metadata"]["name"] == "berth-runtime"
    ]
    assert config["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "berth"
    doc = json.loads(config["data"]["runtime.json"])
    assert doc["gpu"] == {"resource": "nvidia.com/mig-1g.24gb", "slots": 4}
    assert doc["proxy"]["config_map"] == "berth-proxy"
    assert doc["proxy"]["https_proxy"] == "http://proxy:3128"
    vllm = next(e for e in doc["engines"] if e["name"] == "vllm")
    assert vllm["image"] == "docker.io/vllm/vllm-openai:v0.26.0"
    assert vllm["env"]["HF_HUB_OFFLINE"] == "1"
    assert "{model_dir}" in vllm["command"]
    model = next(m for m in doc["models"] if m["id"] == "demo-hf-tiny")
    assert model == {
        "id": "demo-hf-tiny",
        "format": "huggingface",
        "directory": "/cache/models/demo-hf-tiny",
        "size": model["size"],
    }


def test_a_prepull_daemonset_pulls_every_engine_on_the_pools_nodes_only() -> None:
    ds = manifests.daemonset(POOLS[0], CATALOG.engines, CFG)
    assert ds["metadata"]["name"] == "berth-prepull-c845a"
    assert ds["metadata"]["namespace"] == "berth-system"
    pod = ds["spec"]["template"]["spec"]
    terms = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert terms["nodeSelectorTerms"][0]["matchExpressions"][0]["values"] == ["ucs-c845a-01"]
    assert [c["image"] for c in pod["initContainers"]] == [e.reference for e in CATALOG.engines]
    for c in [*pod["initContainers"], *pod["containers"]]:
        assert c["imagePullPolicy"] == "IfNotPresent"
        assert c["securityContext"]["runAsNonRoot"] is True
        assert c["resources"]["requests"] == {"cpu": "1m", "memory": "8Mi"}
    assert [c["name"] for c in pod["containers"]] == ["pause"]
    engines = json.loads(
        ds["spec"]["template"]["metadata"]["annotations"][manifests.ENGINES_ANNOTATION]
    )
    assert list(engines.values()) == [e.name for e in CATALOG.engines]


def test_no_engines_no_daemonsets_and_the_hash_follows_what_matters() -> None:
    assert manifests.desired(POOLS, (), CFG) == {}
    first = manifests.prepull_hash(POOLS[0], CATALOG.engines, CFG)
    assert first == manifests.prepull_hash(POOLS[0], CATALOG.engines, CFG)
    assert first != manifests.prepull_hash(POOLS[0], CATALOG.engines[:2], CFG)


def test_distinct_pool_names_give_distinct_valid_names() -> None:
    names = {manifests.daemonset_name(p) for p in ("gpu-a", "GPU_A", "gpu.a", "x" * 80)}
    assert len(names) == 4
    assert all(len(n) <= 63 for n in names)


def test_the_plan_applies_what_differs_and_deletes_what_is_gone() -> None:
    desired = {"berth-prepull-a": ("h1", {"kind": "DaemonSet"}), "berth-prepull-b": ("h2", {})}
    observed: dict[str, str | None] = {"berth-prepull-a": "h1", "berth-prepull-old": "h0"}
    actions = prepull(desired, observed, "berth-system")
    assert [type(a) for a in actions] == [ApplyPrepull, DeletePrepull]
    assert isinstance(actions[0], ApplyPrepull)
    assert actions[0].name == "berth-prepull-b"
    assert actions[1] == DeletePrepull("berth-prepull-old", "berth-system")
    assert prepull({"berth-prepull-a": ("h1", {})}, {"berth-prepull-a": "h1"}, "ns") == []


def _pod(node: str, statuses: list[dict[str, Any]]) -> dict[str, Any]:
    engines = {"engine-vllm": "vllm", "engine-ollama": "ollama", "engine-tgi": "tgi"}
    return {
        "metadata": {
            "labels": {"berth.io/pool": "c845a"},
            "annotations": {manifests.ENGINES_ANNOTATION: json.dumps(engines)},
        },
        "spec": {"nodeName": node},
        "status": {"initContainerStatuses": statuses},
    }


def test_image_state_is_read_from_init_container_statuses() -> None:
    done = {"state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}
    pulling = {"state": {"waiting": {"reason": "PodInitializing"}}}
    failed = {"state": {"waiting": {"reason": "ImagePullBackOff", "message": "not found"}}}
    pods = [
        _pod("n1", [{"name": "engine-vllm", **done}, {"name": "engine-ollama", **pulling}]),
        _pod("n2", [{"name": "engine-vllm", **failed}, {"name": "engine-ollama", **pulling}]),
        {"metadata": {}, "spec": {}},  # not scheduled yet
    ]
    states = {(i.node, i.engine): (i.state, i.detail) for i in node_images(pods)}
    assert states[("n1", "vllm")] == (ImageState.PRESENT, "")
    assert states[("n1", "ollama")][0] is ImageState.PULLING
    assert states[("n1", "tgi")][0] is ImageState.WAITING
    assert states[("n2", "vllm")] == (ImageState.FAILED, "ImagePullBackOff: not found")
    assert states[("n2", "ollama")][0] is ImageState.WAITING


def test_an_empty_catalog_keeps_the_session_valid() -> None:
    spec = make_spec()
    assert spec.catalog == Catalog()
    assert spec.gpu_resource == "nvidia.com/mig-1g.24gb"


def test_the_pause_image_is_in_the_air_gapped_image_list() -> None:
    assert manifests.PAUSE_IMAGE in str(mirror.load_images())


def test_pinned_images_renders_a_pinned_image_set_per_machine_config_pool(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from berth.cli import app

    digest = "sha256:" + "1" * 64
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(
        "engines:\n"
        "  - {name: vllm, image: 'docker.io/vllm/vllm-openai:v0.26.0', digest: '" + digest + "',\n"
        "     source: test, port: 8000, formats: [huggingface], command: [vllm, serve]}\n"
        "  - {name: tgi, image: 'ghcr.io/huggingface/text-generation-inference:3.3.0',\n"
        "     source: test, port: 8080, formats: [huggingface], command: [tgi]}\n"
        "models: []\n"
    )
    args = ["render", "pinned-images", "--catalog-file", str(catalog)]
    result = CliRunner().invoke(app, [*args, "--machine-config-pool", "gpu"])
    assert result.exit_code == 0, result.output
    (doc,) = [d for d in yaml.safe_load_all(result.stdout) if d]
    assert doc["apiVersion"] == "machineconfiguration.openshift.io/v1"
    assert doc["kind"] == "PinnedImageSet"
    assert doc["metadata"]["labels"]["machineconfiguration.openshift.io/role"] == "gpu"
    assert doc["spec"]["pinnedImages"] == [{"name": f"docker.io/vllm/vllm-openai@{digest}"}]
    assert "engine tgi is pinned by tag only" in result.stderr
    # the demo catalog pins nothing by digest: nothing to pin
    assert CliRunner().invoke(app, ["render", "pinned-images"]).exit_code == 2


def test_on_openshift_the_prepull_pods_take_the_namespaces_uid() -> None:
    plain = manifests.daemonset(POOLS[0], CATALOG.engines, CFG)
    ocp = manifests.daemonset(POOLS[0], CATALOG.engines, CFG, openshift=True)
    for ds, fixed in ((plain, True), (ocp, False)):
        spec = ds["spec"]["template"]["spec"]
        for c in [*spec["initContainers"], *spec["containers"]]:
            assert ("runAsUser" in c["securityContext"]) is fixed
            assert c["securityContext"]["runAsNonRoot"] is True
    hashes = {d["metadata"]["annotations"][manifests.HASH_ANNOTATION] for d in (plain, ocp)}
    assert len(hashes) == 2
