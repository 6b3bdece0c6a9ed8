"""`berth render mirror`: every image of an air-gapped install, pinned, from one data file."""

from __future__ import annotations

import re

import pytest
import yaml
from typer.testing import CliRunner

from berth.cli import app
from berth.config import load_pool_file, load_pool_text
from berth.domain.pool import Pool
from berth.domain.session import SessionConfig
from berth.install import mirror
from berth.yamlfile import FileError

runner = CliRunner()
DIGEST_REF = re.compile(r"^[a-z0-9.-]+(/[a-z0-9._-]+)+@sha256:[0-9a-f]{64}$")
TAG_REF = re.compile(r"^[a-z0-9.-]+(/[a-z0-9._-]+)+:[A-Za-z0-9._-]+$")
WHOLE_ONLY = load_pool_text(
    "pools:\n  - name: a\n    nodes:\n      - {name: n, cpu: 8, memory: 8Gi, storage_class: s,"
    " gpus: [{index: 0, model: L40S, memory: 48Gi}]}\n"
)


def images(*, postgres: bool = False, pools: list[Pool] | None = None) -> list[mirror.Image]:
    return mirror.select(
        mirror.load_images(),
        load_pool_file() if pools is None else pools,
        berth_image="localhost/berth:0.1.0",
        workspace_image=SessionConfig.image,
        postgres=postgres,
    )


def test_every_reference_is_pinned_by_digest_or_tag_never_both() -> None:
    for image in images(postgres=True):
        assert DIGEST_REF.match(image.ref) or TAG_REF.match(image.ref), image.ref
        assert image.pinned_by_digest == ("@" in image.ref)
        assert image.tag not in ("", "latest")


def test_the_platform_the_gpu_operator_and_the_engines_are_listed() -> None:
    names = [i.name for i in images()]
    assert names[:2] == ["berth", "workspace"]
    for name in ("gpu-operator", "gpu-driver", "device-plugin", "mig-manager", "container-toolkit"):
        assert name in names
    for engine in ("vllm", "ollama", "tgi", "triton"):
        assert engine in names
    by_name = {i.name: i for i in images()}
    assert by_name["workspace"].ref == SessionConfig.image
    assert by_name["device-plugin"].pinned_by_digest
    assert "no known digest" in by_name["vllm"].comment


def test_postgres_only_when_the_install_runs_one_and_mig_manager_only_with_mig() -> None:
    assert "postgresql" not in [i.name for i in images()]
    assert "postgresql" in [i.name for i in images(postgres=True)]
    assert "mig-manager" not in [i.name for i in images(pools=WHOLE_ONLY)]


def test_image_set_configuration_mirrors_operators_from_their_catalogs() -> None:
    data = mirror.load_images()
    text = mirror.image_set_configuration(data, images(), openshift="4.20")
    doc = yaml.safe_load(text)
    assert doc["apiVersion"] == "mirror.openshift.io/v2alpha1"
    assert doc["kind"] == "ImageSetConfiguration"
    (gpu,) = [o for o in doc["mirror"]["operators"] if "certified" in o["catalog"]]
    assert gpu["catalog"] == "registry.redhat.io/redhat/certified-operator-index:v4.20"
    assert gpu["packages"] == [
        {"name": "gpu-operator-certified", "channels": [{"name": "v26.3", "minVersion": "26.3.3"}]}
    ]
    extra = [a["name"] for a in doc["mirror"]["additionalImages"]]
    # the operators' own images come with their bundles; everything else is listed
    assert "localhost/berth:0.1.0" in extra
    assert not any("nvcr.io/nvidia/k8s-device-plugin" in e for e in extra)
    assert "nvcr.io/nvidia/tritonserver:26.07-py3" in extra
    assert "# triton (pinned by tag only: no known digest)" in text


def test_a_broken_data_file_names_the_line() -> None:
    text = (
        "operators: []\nimages:\n  - name: x\n    image: a/b:1\n    digest: sha256:abc\n"
        "    when: always\n    source: s\n"
    )
    with pytest.raises(FileError, match=r"images.yaml:5: images.0.digest"):
        mirror.load_images(text)
    with pytest.raises(FileError, match="unknown operator 'nope'"):
        mirror.load_images(text.replace("digest: sha256:abc", "operator: nope"))


def test_render_mirror_command() -> None:
    listed = runner.invoke(
        app, ["render", "mirror", "--format", "list", "--postgres", "--berth-image", "r/b:1"]
    )
    assert listed.exit_code == 0, listed.output
    refs = [line for line in listed.stdout.splitlines() if not line.startswith("#")]
    assert refs[0] == "r/b:1"
    assert "docker.io/library/postgres:18.6" in refs
    assert yaml.safe_load(runner.invoke(app, ["render", "mirror"]).stdout)["kind"] == (
        "ImageSetConfiguration"
    )
    unpinned = runner.invoke(app, ["render", "mirror", "--berth-image", "registry:5000/berth"])
    assert unpinned.exit_code == 2
    assert "pin a tag or a digest" in unpinned.output
