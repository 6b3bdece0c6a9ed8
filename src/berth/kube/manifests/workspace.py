"""The browser IDE: its password Secret, Deployment and Service.

code-server runs unprivileged (it meets Pod Security `restricted`), reads its password from the
Secret and the proxy settings from `berth-proxy`, and is pinned to the pool's nodes. Requests
equal limits so the IDE's share of the quota is exactly what the booking math set aside; in
interactive mode it holds one GPU slot of the booked kind, in inference mode none, and then it
is told so explicitly, since a CUDA image's own NVIDIA_VISIBLE_DEVICES=all would otherwise let
the runtime expose every GPU of the node. `Recreate`, because the disk is ReadWriteOnce and
the GPU slot is counted by the quota: a rolling update would wait forever for room.
"""

from __future__ import annotations

import base64

from berth.domain.quantity import format_bytes, format_millicores
from berth.domain.session import SessionSpec
from berth.kube.manifests.common import (
    APP_LABEL,
    ARTIFACTS,
    AUTH_SECRET,
    CODE_SERVER_PORT,
    DISK,
    PROXY,
    WORKSPACE,
    Obj,
    meta,
    node_terms,
    obj,
)

HOME = "/home/coder"
# The disk's directories and where the IDE sees them; the artifact cache, read-only, at /cache.
DISK_MOUNTS = {"home": HOME, "data": "/data", "models": "/models"}
CACHE_MOUNT = "/cache"
UID = 1000  # code-server's `coder` user
# Seconds the IDE gets to stop (code-server and JupyterLab stop in about one). Kubernetes'
# default of 30 also made every session's teardown take 16 s or more: while a pod with a grace
# period is left, the namespace controller looks again only after half of it plus one second.
GRACE_SECONDS = 5
GPU_TAINT_KEYS = ("nvidia.com/gpu",)


def auth_secret(spec: SessionSpec, password: str) -> Obj:
    encoded = base64.b64encode(password.encode()).decode()
    return obj("v1", "Secret", meta(spec, AUTH_SECRET), type="Opaque", data={"password": encoded})


def _resources(spec: SessionSpec) -> Obj:
    ws = spec.workspace
    amounts = {
        "cpu": format_millicores(ws.cpu_millicores),
        "memory": format_bytes(ws.memory_bytes),
    }
    if ws.gpu_resource is not None:
        amounts[ws.gpu_resource] = "1"
    return {"requests": dict(amounts), "limits": dict(amounts)}


def _container(spec: SessionSpec) -> Obj:
    env: list[Obj] = [
        {
            "name": "PASSWORD",
            "valueFrom": {"secretKeyRef": {"name": AUTH_SECRET, "key": "password"}},
        },
    ]
    if spec.workspace.gpu_resource is None:
        env.append({"name": "NVIDIA_VISIBLE_DEVICES", "value": "void"})
    return {
        "name": "code-server",
        "image": spec.config.image,
        "args": ["--bind-addr", f"0.0.0.0:{CODE_SERVER_PORT}", "--auth", "password", HOME],
        "ports": [{"name": "http", "containerPort": CODE_SERVER_PORT, "protocol": "TCP"}],
        "env": env,
        "envFrom": [{"configMapRef": {"name": PROXY}}],
        "resources": _resources(spec),
        "readinessProbe": {
            "httpGet": {"path": "/healthz", "port": "http"},
            "periodSeconds": 5,
            "failureThreshold": 3,
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "runAsNonRoot": True,
        },
        "volumeMounts": [
            *(
                {"name": DISK, "mountPath": path, "subPath": sub}
                for sub, path in DISK_MOUNTS.items()
            ),
            {"name": ARTIFACTS, "mountPath": CACHE_MOUNT, "readOnly": True},
        ],
    }


def _pod_security(*, openshift: bool) -> Obj:
    context: Obj = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
    if not openshift:  # OpenShift assigns the namespace's own uid range; a fixed uid is refused
        context |= {"runAsUser": UID, "runAsGroup": UID, "fsGroup": UID}
    return context


def deployment(spec: SessionSpec, *, openshift: bool) -> Obj:
    selector = {APP_LABEL: WORKSPACE}
    return obj(
        "apps/v1",
        "Deployment",
        meta(spec, WORKSPACE),
        spec={
            "replicas": 1,
            "strategy": {"type": "Recreate"},
            "revisionHistoryLimit": 2,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": {**spec.labels, **selector}},
                "spec": {
                    "serviceAccountName": WORKSPACE,
                    "terminationGracePeriodSeconds": GRACE_SECONDS,
                    "securityContext": _pod_security(openshift=openshift),
                    "affinity": {
                        "nodeAffinity": {
                            "requiredDuringSchedulingIgnoredDuringExecution": node_terms(spec)
                        }
                    },
                    "tolerations": [
                        {"key": key, "operator": "Exists", "effect": "NoSchedule"}
                        for key in GPU_TAINT_KEYS
                    ],
                    "containers": [_container(spec)],
                    "volumes": [
                        {"name": DISK, "persistentVolumeClaim": {"claimName": DISK}},
                        {
                            "name": ARTIFACTS,
                            "persistentVolumeClaim": {"claimName": ARTIFACTS, "readOnly": True},
                        },
                    ],
                },
            },
        },
    )


def service(spec: SessionSpec) -> Obj:
    return obj(
        "v1",
        "Service",
        meta(spec, WORKSPACE),
        spec={
            "type": "ClusterIP",
            "selector": {APP_LABEL: WORKSPACE},
            "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}],
        },
    )
