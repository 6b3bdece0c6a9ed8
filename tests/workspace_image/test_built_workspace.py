"""The built `workspace` image, run with `buildah run` as the Deployment runs it: UID 1000 in
group 0 (and an arbitrary UID in group 0, as OpenShift assigns), HOME /home/coder.

Not part of `make test` (pyproject's addopts ignore this folder): a cold build of the image takes
long and needs gigabytes (docs/install.md#the-workspace-image). `make images-test` builds it
(`berth image build workspace`, a cache hit when nothing changed) and runs this file; the
`image` fixture builds it too. chroot isolation shares the host's network: the test reaches the
image's code-server and JupyterLab on 127.0.0.1.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator

import httpx
import psutil
import pytest

from berth import __version__
from berth.images import build, pins
from berth.images.buildah import Buildah
from tests.image.conftest import cached_buildah, free_port, working_container

JUPYTER_PORT = 8888  # the entrypoint's: code-server proxies /absproxy/8888/


@pytest.fixture(scope="module")
def image() -> str:
    return build.build("workspace", print).tag


@pytest.fixture(scope="module")
def buildah() -> Buildah:
    return cached_buildah()


@pytest.fixture(scope="module")
def container(image: str, buildah: Buildah) -> Iterator[str]:
    with working_container(buildah, image, "berth-workspace-test") as name:
        yield name


def argv(buildah: Buildah, container: str, *command: str, user: str = "1000:0") -> list[str]:
    args = ["run", "--isolation", "chroot", "--user", user, "--env", "HOME=/home/coder"]
    return buildah.argv(*args, container, "--", *command)


def run(buildah: Buildah, container: str, *command: str, user: str = "1000:0") -> str:
    out = subprocess.run(
        argv(buildah, container, *command, user=user),
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_code_server_is_the_pinned_version(buildah: Buildah, container: str) -> None:
    # the first run writes ~/.config/code-server/config.yaml and logs that line first
    out = run(buildah, container, "code-server", "--version").strip().splitlines()[-1]
    assert out.split()[0] == build.code_server_version(pins.repository())
    assert "with Code 1." in out


def test_jupyterlab_kubectl_git_and_berth(buildah: Buildah, container: str) -> None:
    assert run(buildah, container, "jupyter", "lab", "--version").strip() == "4.6.6"
    assert "v1.37." in run(buildah, container, "kubectl", "version", "--client")
    assert run(buildah, container, "git", "--version").startswith("git version 2.")
    assert run(buildah, container, "berth", "--version").strip() == __version__
    assert "berth-serve ENGINE MODEL" in run(buildah, container, "berth-serve", "--help")
    assert run(buildah, container, "node", "--version").strip() == "v24.19.0"


def test_torch_computes_on_cpu(buildah: Buildah, container: str) -> None:
    script = (
        "import torch; x = torch.arange(6.0).reshape(2, 3); "
        "print(torch.__version__, (x @ x.T).sum().item(), torch.cuda.is_available())"
    )
    if build.torch_variant() == "none":
        out = subprocess.run(
            argv(buildah, container, "python", "-c", "import torch"),
            check=False,
            capture_output=True,
            text=True,
        )
        assert "No module named 'torch'" in out.stderr
        return
    version, total, cuda = run(buildah, container, "python", "-c", script).split()
    assert version.startswith("2.15.0")
    assert float(total) == 83.0  # [[0,1,2],[3,4,5]] times its transpose: 5 + 14 + 14 + 50
    assert cuda == "False"  # no GPU on this machine: the CUDA build falls back to the CPU


def test_an_assigned_uid_in_group_0_writes_home(buildah: Buildah, container: str) -> None:
    script = "id -u; id -g; touch /home/coder/f /data/f /models/f && echo writable"
    out = run(buildah, container, "sh", "-c", script, user="1234567:0")
    assert out.split() == ["1234567", "0", "writable"]


def test_entrypoint_serves_code_server_and_jupyterlab(buildah: Buildah, container: str) -> None:
    port = free_port()
    # the Deployment's arguments (CMD) with a loopback address; the password from the env as the
    # Deployment's Secret gives it
    command = argv(
        buildah,
        container,
        "/usr/bin/tini",
        "--",
        "/usr/local/bin/berth-workspace",
        "--bind-addr",
        f"127.0.0.1:{port}",
        "--auth",
        "password",
        "/home/coder",
    )
    command[command.index("run") + 1 : command.index("run") + 1] = ["--env", "PASSWORD=s3cret"]
    server = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        health = _eventually(f"http://127.0.0.1:{port}/healthz", server)
        assert health.status_code == 200, health.text
        assert health.json()["status"] in ("alive", "expired")
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=10)
        assert page.status_code in (200, 302)
        lab = _eventually(f"http://127.0.0.1:{JUPYTER_PORT}/absproxy/8888/api/status", server)
        assert lab.status_code == 200, lab.text
        assert "started" in lab.json()
    finally:
        _stop(server)


def _eventually(url: str, server: subprocess.Popen[str]) -> httpx.Response:
    deadline = time.monotonic() + 120
    while True:
        if server.poll() is not None:
            output = server.stdout.read() if server.stdout else ""
            pytest.fail(f"the workspace exited with {server.returncode}:\n{output}")
        try:
            return httpx.get(url, timeout=5)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def _stop(server: subprocess.Popen[str]) -> None:
    processes = [psutil.Process(server.pid), *psutil.Process(server.pid).children(recursive=True)]
    os.killpg(server.pid, signal.SIGTERM)
    _, alive = psutil.wait_procs(processes, timeout=30)
    for process in alive:
        process.kill()
    server.wait()
    if server.stdout:
        server.stdout.close()
