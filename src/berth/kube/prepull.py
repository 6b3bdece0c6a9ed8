"""Per-node engine image state, read from the pre-pull DaemonSets' pods (plain dicts, pure).

Each pre-pull pod runs one init container per engine image (`kube/manifests/prepull.py`); the
kubelet pulls an init container's image just before it starts it, in order. So an init
container that has run (terminated with exit code 0, or running) proves its image is on the
node; one waiting with a pull error names why it is not; the ones after it have not been
reached yet.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from berth.domain.session import LABEL_POOL
from berth.kube.manifests.prepull import ENGINES_ANNOTATION

PULL_ERRORS = {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}


class ImageState(StrEnum):
    PRESENT = "present"  # pulled: its init container ran
    PULLING = "pulling"  # the kubelet is at this image now
    WAITING = "waiting"  # an earlier image is not there yet
    FAILED = "failed"  # the pull fails (the detail says why)


@dataclass(frozen=True)
class NodeImage:
    pool: str
    node: str
    engine: str
    state: ImageState
    detail: str = ""


def _state(status: dict[str, Any] | None) -> tuple[ImageState, str]:
    if status is None:
        return ImageState.WAITING, ""
    state = status.get("state") or {}
    if "running" in state:
        return ImageState.PRESENT, ""
    if "terminated" in state:
        done = state["terminated"]
        if int(done.get("exitCode", 1)) == 0:
            return ImageState.PRESENT, ""
        # the image was there to run it; the trivial command failed (no `true` in the image)
        return ImageState.PRESENT, f"pulled, but its command failed: {done.get('reason', '')}"
    waiting = state.get("waiting") or {}
    reason = waiting.get("reason", "")
    if reason in PULL_ERRORS:
        return ImageState.FAILED, f"{reason}: {waiting.get('message', '')}".strip()
    return ImageState.PULLING, reason


def node_images(pods: list[dict[str, Any]]) -> list[NodeImage]:
    """The state of every engine image on every node a pre-pull pod is scheduled to."""
    found: list[NodeImage] = []
    for pod in pods:
        metadata = pod.get("metadata") or {}
        node = (pod.get("spec") or {}).get("nodeName")
        if not node:
            continue
        try:
            engines: dict[str, str] = json.loads(
                (metadata.get("annotations") or {})[ENGINES_ANNOTATION]
            )
        except (KeyError, ValueError):
            continue
        pool = (metadata.get("labels") or {}).get(LABEL_POOL, "")
        statuses = {
            s.get("name"): s for s in (pod.get("status") or {}).get("initContainerStatuses") or []
        }
        reached = True
        for container, engine in engines.items():
            state, detail = _state(statuses.get(container))
            if not reached and state is ImageState.PULLING:
                state = ImageState.WAITING
            if state is not ImageState.PRESENT:
                reached = False
            found.append(NodeImage(pool, node, engine, state, detail))
    return sorted(found, key=lambda i: (i.pool, i.node, i.engine))
