"""The session's `berth-runtime` ConfigMap: what `berth-serve` needs to start a model server.

One key, `runtime.json`, a document of the catalog's engines (the image as pulled, by digest
where the catalog knows it, the offline command and environment with their `{model_dir}`,
`{model}` and `{port}` placeholders unfilled, the port, the OpenAI and readiness paths), the
models (id, format, directory under the read-only cache mount), the session's GPU resource and
slots, and the proxy settings with the name of the proxy ConfigMap. Labelled like every Berth
object, so only the reconciler may change it (admission policy `berth-owned-objects`); the
tenant reads it with the namespace's own rights. Its keys are no device-selecting variable
names (admission policy `berth-device-env-sources`).
"""

from __future__ import annotations

import json
from typing import Any

from berth.domain.session import SessionSpec
from berth.kube.manifests.common import ARTIFACTS, PROXY, RUNTIME, RUNTIME_KEY, Obj, meta, obj

RUNTIME_VERSION = 1  # bumped when the document's shape changes incompatibly


def document(spec: SessionSpec) -> dict[str, Any]:
    """The runtime document of a session (pure; `berth.runtime` reads it back)."""
    cfg = spec.config
    return {
        "version": RUNTIME_VERSION,
        "namespace": spec.namespace,
        "gpu": {"resource": spec.gpu_resource, "slots": spec.quota.gpu.get(spec.gpu_resource, 0)},
        "cache": {"claim": ARTIFACTS, "mount": "/cache"},
        "proxy": {
            "config_map": PROXY,
            "http_proxy": cfg.http_proxy,
            "https_proxy": cfg.https_proxy,
            "no_proxy": cfg.no_proxy,
        },
        "engines": [
            {
                "name": e.name,
                "image": e.reference,
                "formats": [f.value for f in e.formats],
                "command": list(e.command),
                "env": dict(e.env),
                "port": e.port,
                "openai_path": e.openai_path,
                "ready_path": e.ready_path,
            }
            for e in spec.catalog.engines
        ],
        "models": [
            {"id": m.id, "format": m.format.value, "directory": m.directory, "size": m.size}
            for m in spec.catalog.models
        ],
    }


def runtime_config(spec: SessionSpec) -> Obj:
    text = json.dumps(document(spec), indent=1, sort_keys=True)
    return obj("v1", "ConfigMap", meta(spec, RUNTIME), data={RUNTIME_KEY: text})
