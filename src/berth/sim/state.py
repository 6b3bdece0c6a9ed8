"""What a running sim leaves in its state folder, so a later command can find and stop it.

`berth sim up` returns while the components keep running; `status` and `down` are separate
processes. Everything they need (ports, pids, the kubeconfig) is one JSON file beside the logs.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

STATE_FILE = "state.json"


@dataclass(frozen=True)
class Paths:
    """The layout of one state folder."""

    root: Path

    @property
    def state_file(self) -> Path:
        return self.root / STATE_FILE

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    @property
    def pki(self) -> Path:
        return self.root / "pki"

    @property
    def etcd_data(self) -> Path:
        return self.root / "etcd"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def run(self) -> Path:
        """Scratch folders the components ask for (cert dirs)."""
        return self.root / "run"

    def log(self, component: str) -> Path:
        return self.logs / f"{component}.log"


@dataclass
class SimState:
    """Ports and processes of one running sim."""

    server: str
    ports: dict[str, int]
    pids: dict[str, int] = field(default_factory=dict)
    exes: dict[str, str] = field(default_factory=dict)
    pool_file: str = ""
    nodes: int = 0
    storage_classes: list[str] = field(default_factory=list)
    started_at: float = 0.0
    ready_seconds: float = 0.0
    openshift: bool = False  # the OpenShift CRDs are registered (`up --openshift`)

    def save(self, paths: Paths) -> None:
        tmp = paths.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2) + "\n")
        tmp.replace(paths.state_file)

    @classmethod
    def load(cls, paths: Paths) -> SimState | None:
        if not paths.state_file.exists():
            return None
        return cls(**json.loads(paths.state_file.read_text()))
