"""A STAND-IN for NVIDIA's DCGM exporter (and for the engines' token counters), for tests only.

The sim's GPU nodes are kwok nodes: no GPU, no DCGM. This small HTTP server serves what the
real exporter would for the sessions' pods, in its real names and labels, so a real Prometheus
can scrape it and Berth's collector reads it as it would in a cluster:

- `DCGM_FI_PROF_GR_ENGINE_ACTIVE` (gauge, 0..1) per GPU or MIG slice a pod holds, labelled
  `gpu`, `UUID`, `device`, `modelName`, `Hostname`, for MIG slices `GPU_I_PROFILE` and
  `GPU_I_ID`, and the pod's `namespace`, `pod`, `container` (dcgm-exporter's Kubernetes
  mode; Prometheus keeps them with `honor_labels`);
- `vllm:prompt_tokens_total` and `vllm:generation_tokens_total` (counters) for namespaces that
  are scripted to serve a model.

The activity is scripted by the test (`script`); a pod nobody scripted reads 0, as an idle
GPU does. It is not DCGM and measures nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from kubernetes import client

from berth.domain.session import MANAGED_BY


@dataclass(frozen=True)
class GpuPod:
    """A pod holding GPUs (or MIG slices), as the exporter attributes devices to pods."""

    namespace: str
    pod: str
    container: str
    node: str
    gpus: int = 1
    mig_profile: str | None = None


class StandInDcgmExporter:
    def __init__(
        self,
        pods: Callable[[], list[GpuPod]] = list,
        model: str = "NVIDIA H100 80GB HBM3",
    ) -> None:
        """`pods`: where the GPU pods are found (the sim's, listed at each scrape); pods can
        also be added by hand (`add_pod`)."""
        self.pods, self.model = pods, model
        self.added: list[GpuPod] = []
        self.activity: dict[str, float] = {}  # namespace -> DCGM_FI_PROF_GR_ENGINE_ACTIVE
        self.tokens: dict[str, tuple[int, int]] = {}  # namespace -> (prompt, generated)
        self.scrapes = 0
        self.port = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def add_pod(self, pod: GpuPod) -> None:
        with self._lock:
            self.added.append(pod)

    def script(self, namespace: str, active: float) -> None:
        with self._lock:
            self.activity[namespace] = active

    def count_tokens(self, namespace: str, prompt: int, generated: int) -> None:
        with self._lock:
            p, g = self.tokens.get(namespace, (0, 0))
            self.tokens[namespace] = (p + prompt, g + generated)

    def metrics(self) -> str:
        lines = [
            "# HELP DCGM_FI_PROF_GR_ENGINE_ACTIVE Ratio of time the graphics engine is active.",
            "# TYPE DCGM_FI_PROF_GR_ENGINE_ACTIVE gauge",
        ]
        with self._lock:
            activity, tokens, added = dict(self.activity), dict(self.tokens), list(self.added)
        index = 0
        for p in [*self.pods(), *added]:
            for i in range(p.gpus):
                labels = {
                    "gpu": str(index),
                    "UUID": f"GPU-standin-{index:04d}",
                    "device": f"nvidia{index}",
                    "modelName": self.model,
                    "Hostname": p.node,
                    "namespace": p.namespace,
                    "pod": p.pod,
                    "container": p.container,
                }
                if p.mig_profile is not None:
                    labels |= {"GPU_I_PROFILE": p.mig_profile, "GPU_I_ID": str(i + 1)}
                index += 1
                text = ",".join(f'{k}="{v}"' for k, v in labels.items())
                value = activity.get(p.namespace, 0.0)
                lines.append(f"DCGM_FI_PROF_GR_ENGINE_ACTIVE{{{text}}} {value:.6f}")
        lines += ["# TYPE vllm:prompt_tokens_total counter"]
        lines += [
            f'vllm:prompt_tokens_total{{namespace="{ns}"}} {p}' for ns, (p, _) in tokens.items()
        ]
        lines += ["# TYPE vllm:generation_tokens_total counter"]
        lines += [
            f'vllm:generation_tokens_total{{namespace="{ns}"}} {g}' for ns, (_, g) in tokens.items()
        ]
        return "\n".join(lines) + "\n"

    def start(self, port: int = 0) -> int:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != "/metrics":
                    self.send_error(404)
                    return
                body = standin.metrics().encode()
                standin.scrapes += 1
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.port = int(self._server.server_address[1])
        return self.port

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def sim_gpu_pods(core: client.CoreV1Api) -> Callable[[], list[GpuPod]]:
    """The sessions' running pods that hold a GPU slot on the sim, as DCGM would attribute
    their devices (listed at every scrape)."""

    def pods() -> list[GpuPod]:
        found = core.list_pod_for_all_namespaces(label_selector=f"{MANAGED_BY[0]}={MANAGED_BY[1]}")
        out = []
        for p in found.items:
            if p.status.phase != "Running" or not p.spec.node_name:
                continue
            for c in p.spec.containers:
                limits = (c.resources.limits if c.resources else None) or {}
                for resource in (k for k in limits if k.startswith("nvidia.com/")):
                    kind = resource.removeprefix("nvidia.com/")
                    profile = kind.removeprefix("mig-") if kind.startswith("mig-") else None
                    node = p.spec.node_name
                    out.append(
                        GpuPod(p.metadata.namespace, p.metadata.name, c.name, node, 1, profile)
                    )
        return out

    return pods
