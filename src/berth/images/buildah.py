"""buildah with this project's storage: vfs under the image cache, chroot isolation.

Own storage (`--root`, `--runroot`) instead of /var/lib/containers: the images of the build and
the tests never mix with whatever else the machine holds, and deleting the cache deletes them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

INPUTS_LABEL = "io.berth.inputs"  # the hash of what an image was built from (its cache key)


class BuildahError(RuntimeError):
    """buildah failed or is missing; the message says what to do."""


@dataclass(frozen=True)
class Buildah:
    storage: Path  # the cache's buildah folder: storage/ and run/

    def argv(self, *args: str) -> list[str]:
        exe = shutil.which("buildah")
        if exe is None:
            raise BuildahError("buildah is not installed: `apt-get install buildah` (make images)")
        return [
            exe,
            "--root",
            str(self.storage / "storage"),
            "--runroot",
            str(self.storage / "run"),
            "--storage-driver",
            "vfs",
            *args,
        ]

    def run(self, *args: str, capture: bool = False) -> str:
        result = subprocess.run(
            self.argv(*args),
            check=False,
            text=True,
            stdout=subprocess.PIPE if capture else None,
            stderr=subprocess.PIPE if capture else None,
        )
        if result.returncode != 0:
            detail = (result.stderr or "").strip() if capture else "see its output above"
            raise BuildahError(f"buildah {' '.join(args[:2])} failed: {detail}")
        return result.stdout or ""

    def inputs_of(self, image: str) -> str | None:
        """The inputs label of `image`, or None when there is no such image."""
        found = subprocess.run(
            self.argv("inspect", "--type", "image", image),
            check=False,
            text=True,
            capture_output=True,
        )
        if found.returncode != 0:
            return None
        labels = json.loads(found.stdout).get("OCIv1", {}).get("config", {}).get("Labels") or {}
        value = labels.get(INPUTS_LABEL)
        return str(value) if value is not None else None

    def size_of(self, image: str) -> int:
        """Bytes of the image's layers as uncompressed tar (what a registry stores before
        compression; buildah's own figure is rounded text)."""
        found = json.loads(self.run("inspect", "--type", "image", image, capture=True))
        return sum(int(layer["size"]) for layer in json.loads(found["Manifest"])["layers"])

    def bud(
        self,
        containerfile: Path,
        context: Path,
        tag: str,
        inputs: str,
        build_args: Sequence[str] = (),
    ) -> None:
        args = ["bud", "--isolation", "chroot", "--file", str(containerfile), "--tag", tag]
        args += ["--label", f"{INPUTS_LABEL}={inputs}"]
        for arg in build_args:
            args += ["--build-arg", arg]
        self.run(*args, str(context))
