"""Model servers in a session, decided purely: the `berth-runtime` document in, objects out.

`berth-serve ENGINE MODEL` becomes a Deployment and a Service built here from the session's
`berth-runtime` ConfigMap (written by the reconciler, `kube/manifests/runtime.py`): the engine's
image (`IfNotPresent`: the pre-pull DaemonSet put it on the node), its offline command and
environment with `{model_dir}`, `{model}` and `{port}` filled in, the model from the read-only
artifact claim mounted at /cache, `--gpus` slots of the session's GPU resource, the proxy
ConfigMap, labels, a readiness probe on the engine's `ready_path`. Nothing here talks to a
cluster; `berth.runtime.cli` does.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from berth.kube.manifests.common import (
    APP_LABEL,
    ARTIFACTS,
    PROXY,
    ROLE_LABEL,
    RUNTIME_KEY,
    SERVER_LABEL,
)

Obj = dict[str, Any]
ENGINE_LABEL = "berth.io/engine"
MODEL_LABEL = "berth.io/model"
COMPONENT = ("app.kubernetes.io/component", "model-server")
CONTAINER = "engine"
CACHE_VOLUME = "cache"
NAME = re.compile(r"^[a-z]([a-z0-9-]{0,40}[a-z0-9])?$")  # a Service name, with room for pods'
LABEL_VALUE = re.compile(r"^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$")
TOLERATED_TAINTS = ("nvidia.com/gpu",)


class Refused(Exception):
    """A request berth-serve refuses, or the cluster refused: one line for the user."""


@dataclass(frozen=True)
class EngineSpec:
    name: str
    image: str
    formats: tuple[str, ...]
    command: tuple[str, ...]
    env: dict[str, str]
    port: int
    openai_path: str | None
    ready_path: str


@dataclass(frozen=True)
class ModelSpec:
    id: str
    format: str
    directory: str


@dataclass(frozen=True)
class Runtime:
    """The session's `berth-runtime` document."""

    namespace: str
    gpu_resource: str
    gpu_slots: int
    proxy_config_map: str
    engines: tuple[EngineSpec, ...]
    models: tuple[ModelSpec, ...]

    def engine(self, name: str) -> EngineSpec:
        for e in self.engines:
            if e.name == name:
                return e
        known = ", ".join(e.name for e in self.engines) or "none"
        raise Refused(f"unknown engine {name!r} (this session's catalog has: {known})")

    def model(self, model_id: str) -> ModelSpec:
        for m in self.models:
            if m.id == model_id:
                return m
        known = ", ".join(m.id for m in self.models) or "none"
        raise Refused(f"model {model_id!r} is not in the catalog (it has: {known})")


def parse_runtime(config_map: Obj) -> Runtime:
    """The document of a `berth-runtime` ConfigMap (as the API server returns it)."""
    try:
        doc = json.loads((config_map.get("data") or {})[RUNTIME_KEY])
        return Runtime(
            namespace=doc["namespace"],
            gpu_resource=doc["gpu"]["resource"],
            gpu_slots=int(doc["gpu"]["slots"]),
            proxy_config_map=doc["proxy"]["config_map"],
            engines=tuple(
                EngineSpec(
                    name=e["name"],
                    image=e["image"],
                    formats=tuple(e["formats"]),
                    command=tuple(e["command"]),
                    env=dict(e["env"]),
                    port=int(e["port"]),
                    openai_path=e.get("openai_path"),
                    ready_path=e.get("ready_path") or "/",
                )
                for e in doc["engines"]
            ),
            models=tuple(ModelSpec(m["id"], m["format"], m["directory"]) for m in doc["models"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise Refused(f"the berth-runtime ConfigMap is not readable ({exc!r})") from exc


def default_name(engine: str, model: str) -> str:
    """`<engine>-<model>`, made a valid Service name."""
    text = re.sub(r"[^a-z0-9-]+", "-", f"{engine}-{model}".lower()).strip("-")
    text = text[:42].strip("-")
    return text if text and text[0].isalpha() else f"s-{text}"[:42].strip("-")


@dataclass(frozen=True)
class Request:
    engine: str
    model: str
    name: str | None = None
    role: str | None = None
    gpus: int = 1
    resource: str | None = None  # another GPU resource than the session's (the quota decides)
    cpu: str | None = None  # requests = limits; unset: the session's LimitRange defaults
    memory: str | None = None


@dataclass(frozen=True)
class Plan:
    """What one request becomes."""

    name: str
    engine: EngineSpec
    model: ModelSpec
    resource: str
    deployment: Obj
    service: Obj

    @property
    def url(self) -> str:
        return server_url(self.name, self.deployment["metadata"]["namespace"], self.engine)


def server_url(name: str, namespace: str, engine: EngineSpec) -> str:
    """Where the server answers inside the cluster (its OpenAI-compatible base where it has one)."""
    return f"http://{name}.{namespace}.svc:{engine.port}{engine.openai_path or ''}"


def _fill(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text


def plan(rt: Runtime, req: Request, namespace: str) -> Plan:
    """Check the request against the catalog and build the server's objects; `Refused` with
    one line when the engine, the model or a name does not fit."""
    engine = rt.engine(req.engine)
    model = rt.model(req.model)
    if model.format not in engine.formats:
        serving = [e.name for e in rt.engines if model.format in e.formats]
        raise Refused(
            f"{engine.name} serves {', '.join(engine.formats)} models; {model.id} is a "
            f"{model.format} model (served by: {', '.join(serving) or 'no engine'})"
        )
    name = req.name or default_name(engine.name, model.id)
    if not NAME.match(name):
        raise Refused(
            f"--name {name!r}: lower-case letters, digits and '-', starting with a letter, "
            "at most 42 characters"
        )
    if req.role is not None and not LABEL_VALUE.match(req.role):
        raise Refused(f"--role {req.role!r}: lower-case letters, digits, '.', '_' and '-'")
    if req.gpus < 0:
        raise Refused("--gpus: 0 or more")
    resource = req.resource or rt.gpu_resource
    values = {"model_dir": model.directory, "model": model.id, "port": str(engine.port)}
    labels = {
        SERVER_LABEL: name,
        ENGINE_LABEL: engine.name,
        MODEL_LABEL: model.id[:63],
        APP_LABEL: name,
        COMPONENT[0]: COMPONENT[1],
    }
    if req.role is not None:
        labels[ROLE_LABEL] = req.role
    amounts: dict[str, str] = {}
    if req.gpus:
        amounts[resource] = str(req.gpus)
    if req.cpu:
        amounts["cpu"] = req.cpu
    if req.memory:
        amounts["memory"] = req.memory
    container: Obj = {
        "name": CONTAINER,
        "image": engine.image,
        "imagePullPolicy": "IfNotPresent",
        "command": [_fill(part, values) for part in engine.command],
        "env": [{"name": k, "value": _fill(v, values)} for k, v in sorted(engine.env.items())],
        "envFrom": [{"configMapRef": {"name": rt.proxy_config_map or PROXY}}],
        "ports": [{"name": "http", "containerPort": engine.port, "protocol": "TCP"}],
        "readinessProbe": {
            "httpGet": {"path": engine.ready_path, "port": "http"},
            "periodSeconds": 5,
            "failureThreshold": 3,
        },
        "volumeMounts": [{"name": CACHE_VOLUME, "mountPath": "/cache", "readOnly": True}],
    }
    if amounts:
        container["resources"] = {"requests": dict(amounts), "limits": dict(amounts)}
    metadata = {"name": name, "namespace": namespace, "labels": labels}
    deployment: Obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata,
        "spec": {
            "replicas": 1,
            # its GPU slot is counted: a rolling update would wait for room forever
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": {SERVER_LABEL: name}},
            "template": {
                "metadata": {"labels": dict(labels)},
                "spec": {
                    "containers": [container],
                    "tolerations": [
                        {"key": key, "operator": "Exists", "effect": "NoSchedule"}
                        for key in TOLERATED_TAINTS
                    ],
                    "volumes": [
                        {
                            "name": CACHE_VOLUME,
                            "persistentVolumeClaim": {"claimName": ARTIFACTS, "readOnly": True},
                        }
                    ],
                },
            },
        },
    }
    service: Obj = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": dict(metadata),
        "spec": {
            "type": "ClusterIP",
            "selector": {SERVER_LABEL: name},
            "ports": [{"name": "http", "port": engine.port, "targetPort": "http"}],
        },
    }
    return Plan(name, engine, model, resource, deployment, service)


_QUOTA = re.compile(
    r"exceeded quota: (?P<quota>[^,]+), requested: (?P<requested>[^,]+), "
    r"used: (?P<used>[^,]+), limited: (?P<limited>\S+)"
)


def _amounts(text: str) -> dict[str, str]:
    out = {}
    for part in text.split(","):
        key, _, value = part.strip().partition("=")
        out[key.removeprefix("requests.").removeprefix("limits.")] = value
    return out


def explain_refusal(message: str, *, session_resource: str, servers: list[str]) -> str | None:
    """One line for a pod the API server refused, or None when `message` is not a refusal
    (the quota's `exceeded quota: ...`, or an admission policy's or Pod Security's denial)."""
    found = _QUOTA.search(message)
    if found is not None:
        requested = _amounts(found["requested"])
        used = _amounts(found["used"])
        limited = _amounts(found["limited"])
        for resource, limit in limited.items():
            if resource not in requested:
                continue
            if limit == "0":
                return (
                    f"refused by the session's quota: this booking has no {resource} "
                    f"(its GPU is {session_resource}; use that, the default)"
                )
            on = f" (servers: {', '.join(servers)})" if servers else ""
            return (
                f"refused by the session's quota: it allows {limit} {resource}, "
                f"{used.get(resource, '0')} in use{on}, this server asks for "
                f"{requested[resource]}; stop one (berth-serve stop NAME) or book more"
            )
        return f"refused by the session's quota: {found.group(0)}"
    if "is forbidden" in message or "denied request" in message:
        return "refused by the cluster: " + message.split("is forbidden:", 1)[-1].strip()
    return None
