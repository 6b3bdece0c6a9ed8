"""The workspace image (images/workspace/Containerfile) against the Deployment that runs it.

The image is too large to build in `make test` (`make images` builds it; docs/install.md), so
what can be checked without it is checked here: the Deployment gives only arguments, and the
image must take them as code-server's (the entrypoint passes them on), listen on the port the
Service targets, run as the UID and HOME the pod's securityContext and volumes assume, and carry
the code-server version the default image (SessionConfig.image) was written for.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from berth.domain.session import SessionConfig
from berth.images import build
from berth.kube.manifests.common import CODE_SERVER_PORT
from berth.kube.manifests.workspace import HOME, UID
from tests.unit.test_manifests import container, make_spec

FOLDER = Path(__file__).resolve().parents[2] / "images" / "workspace"


def final_stage() -> dict[str, list[str]]:
    """The last stage's instructions, by keyword (continuation lines joined)."""
    text = re.sub(r"\\\n", " ", (FOLDER / "Containerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith("#")]
    start = max(i for i, line in enumerate(lines) if line.startswith("FROM "))
    stage: dict[str, list[str]] = {}
    for line in lines[start:]:
        keyword, _, rest = line.partition(" ")
        stage.setdefault(keyword, []).append(rest)
    return stage


def test_the_image_runs_the_deployments_arguments_as_code_server() -> None:
    stage = final_stage()
    [entrypoint] = stage["ENTRYPOINT"]
    assert json.loads(entrypoint) == ["/usr/bin/tini", "--", "/usr/local/bin/berth-workspace"]
    assert (FOLDER / "entrypoint.sh").read_text().rstrip().endswith('exec code-server "$@"')
    # without the Deployment's arguments (a plain `podman run`) it runs the same server
    [cmd] = stage["CMD"]
    assert json.loads(cmd) == container(make_spec())["args"]


def test_port_user_and_home_are_the_deployments() -> None:
    stage = final_stage()
    assert stage["EXPOSE"] == [str(CODE_SERVER_PORT)]
    assert stage["USER"][-1] == f"{UID}:0"  # group 0: any UID OpenShift assigns can write
    env = " ".join(stage["ENV"])
    assert f"HOME={HOME}" in env
    assert f"--uid {UID} " in " ".join(stage["RUN"])
    mounts = {m["mountPath"] for m in container(make_spec())["volumeMounts"]}
    assert HOME in mounts


def test_code_server_is_the_version_of_the_default_workspace_image() -> None:
    text = (FOLDER / "Containerfile").read_text()
    [pinned] = re.findall(r"^ARG CODE_SERVER=(\S+)$", text, re.M)
    assert SessionConfig().image == f"docker.io/codercom/code-server:{pinned}"


def test_the_builder_reads_the_same_code_server_pin() -> None:
    assert build.code_server_version(FOLDER.parents[1]) == SessionConfig().image.split(":")[-1]


def test_the_torch_variant_is_a_build_argument_and_part_of_the_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repo = FOLDER.parents[1]
    monkeypatch.delenv("BERTH_WORKSPACE_TORCH", raising=False)
    assert build.build_args("workspace") == ["TORCH=pypi"]
    assert build.build_args("berth") == []
    assert "ARG TORCH=pypi" in (FOLDER / "Containerfile").read_text()
    if not (repo / "src" / "berth" / "web" / "index.html").is_file():
        pytest.fail("build the UI first (make ui): the key hashes it")
    default = build.inputs_key("workspace", "base", repo)
    monkeypatch.setenv("BERTH_WORKSPACE_TORCH", "none")
    assert build.build_args("workspace") == ["TORCH=none"]
    assert build.inputs_key("workspace", "base", repo) != default
    monkeypatch.setenv("BERTH_WORKSPACE_TORCH", "cpu")
    with pytest.raises(ValueError, match="pypi, none"):
        build.torch_variant()
