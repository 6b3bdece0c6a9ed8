"""Command lines of the five components, and the kubeconfig they and the user share.

Every listener is on 127.0.0.1 and a free port, so several sims (a developer's and a test
run's) coexist. The controller-manager runs its default controller set (`*`): namespace
deletion, quota, service accounts, role aggregation, node lifecycle and the volume binder all
behave as on a real cluster; the ones that need a cloud or a kubelet simply find nothing to do.
Client rate limits of the controller-manager and scheduler are raised (as kwokctl does): at the
defaults, lifting the initial not-ready taint off 100 new nodes alone took 20 s.
"""

from __future__ import annotations

import os

import yaml

from berth.sim.pki import Pki
from berth.sim.state import Paths
from berth.sim.versions import CacheLayout

SERVICE_CIDR = "10.96.0.0/16"  # room for a Service per session at bench scale (1,000+)
CLIENT_RATE = ("--kube-api-qps=1000", "--kube-api-burst=2000")
POD_CIDR = "10.244.0.0/16"
CONTEXT = "berth-sim"
PROVISIONER_MODULE = "berth.sim.provisioner"
# "1": the API server, controller-manager and scheduler serve Go's profiles on /debug/pprof
# (`bench/reconcile.py --profile` reads the API server's CPU profile while sessions open)
PROFILING_ENV = "BERTH_SIM_PROFILING"
CACHE_AGENT_MODULE = "berth.cache.provisioner"


def _profiling() -> str:
    return f"--profiling={str(os.environ.get(PROFILING_ENV) == '1').lower()}"


def context_name(sim: str) -> str:
    """The kubeconfig context (and cluster) name of a sim: `berth-sim`, or `berth-sim-<name>`
    for a named one, so the kubeconfigs of several sims can be merged."""
    return CONTEXT if sim == "default" else f"{CONTEXT}-{sim}"


def kubeconfig(server: str, pki: Pki, context: str = CONTEXT) -> str:
    """An admin kubeconfig that embeds nothing: it points at the PKI files."""
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": context,
                "cluster": {"server": server, "certificate-authority": str(pki.ca_cert)},
            }
        ],
        "users": [
            {
                "name": f"{context}-admin",
                "user": {
                    "client-certificate": str(pki.admin_cert),
                    "client-key": str(pki.admin_key),
                },
            }
        ],
        "contexts": [
            {
                "name": context,
                "context": {"cluster": context, "user": f"{context}-admin", "namespace": "default"},
            }
        ],
        "current-context": context,
    }
    return yaml.safe_dump(doc, sort_keys=False)


def etcd(cache: CacheLayout, paths: Paths, client: int, peer: int) -> list[str]:
    return [
        str(cache.binary("etcd")),
        "--name=berth-sim",
        f"--data-dir={paths.etcd_data}",
        f"--listen-client-urls=http://127.0.0.1:{client}",
        f"--advertise-client-urls=http://127.0.0.1:{client}",
        f"--listen-peer-urls=http://127.0.0.1:{peer}",
        f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
        f"--initial-cluster=berth-sim=http://127.0.0.1:{peer}",
        "--unsafe-no-fsync",
        "--auto-compaction-mode=periodic",
        "--auto-compaction-retention=5m",
        "--quota-backend-bytes=4294967296",
        "--log-level=warn",
    ]


def apiserver(cache: CacheLayout, paths: Paths, pki: Pki, port: int, etcd_port: int) -> list[str]:
    return [
        str(cache.binary("kube-apiserver")),
        f"--etcd-servers=http://127.0.0.1:{etcd_port}",
        "--bind-address=127.0.0.1",
        "--advertise-address=127.0.0.1",
        f"--secure-port={port}",
        f"--cert-dir={paths.run / 'apiserver'}",
        f"--tls-cert-file={pki.server_cert}",
        f"--tls-private-key-file={pki.server_key}",
        f"--client-ca-file={pki.ca_cert}",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={pki.sa_pub}",
        f"--service-account-signing-key-file={pki.sa_key}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        "--authorization-mode=Node,RBAC",
        "--enable-admission-plugins=NamespaceLifecycle,LimitRanger,ServiceAccount,"
        "DefaultStorageClass,ResourceQuota",
        "--allow-privileged=true",
        "--endpoint-reconciler-type=none",
        _profiling(),
        "--v=1",
    ]


def controller_manager(cache: CacheLayout, paths: Paths, pki: Pki, port: int) -> list[str]:
    return [
        str(cache.binary("kube-controller-manager")),
        f"--kubeconfig={paths.kubeconfig}",
        "--bind-address=127.0.0.1",
        f"--secure-port={port}",
        f"--cert-dir={paths.run / 'controller-manager'}",
        "--leader-elect=false",
        *CLIENT_RATE,
        "--controllers=*",
        # Each controller acts as its own ServiceAccount (kube-system:namespace-controller, ...),
        # as on kubeadm and OpenShift clusters: admission policies see the identities they would
        # see in production, not the admin the controller-manager itself logs in as.
        "--use-service-account-credentials=true",
        f"--service-account-private-key-file={pki.sa_key}",
        f"--root-ca-file={pki.ca_cert}",
        f"--cluster-signing-cert-file={pki.ca_cert}",
        f"--cluster-signing-key-file={pki.ca_key}",
        f"--cluster-cidr={POD_CIDR}",
        f"--service-cluster-ip-range={SERVICE_CIDR}",
        _profiling(),
        "--v=1",
    ]


def scheduler(cache: CacheLayout, paths: Paths, port: int) -> list[str]:
    return [
        str(cache.binary("kube-scheduler")),
        f"--kubeconfig={paths.kubeconfig}",
        "--bind-address=127.0.0.1",
        f"--secure-port={port}",
        f"--cert-dir={paths.run / 'scheduler'}",
        "--leader-elect=false",
        *CLIENT_RATE,
        _profiling(),
        "--v=1",
    ]


def kwok(cache: CacheLayout, paths: Paths, port: int) -> list[str]:
    return [
        str(cache.binary("kwok")),
        f"--kubeconfig={paths.kubeconfig}",
        "--manage-all-nodes=false",
        "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
        "--cidr=10.244.0.1/16",
        "--node-ip=10.0.0.1",
        f"--node-port={port}",
        # Without this kwok renews no Lease, and the node-lifecycle controller marks the node
        # NotReady after its grace period (the heartbeat stage updates status every 10 min).
        "--node-lease-duration-seconds=40",
        # kwok's kubelet stand-in would otherwise listen on 0.0.0.0.
        f"--server-address=127.0.0.1:{port}",
        f"--config={cache.kwok_stages}",
    ]


def provisioner(python: str, paths: Paths) -> list[str]:
    return [python, "-m", PROVISIONER_MODULE, str(paths.root)]


def cache_agent(python: str, paths: Paths, nodes: list[str]) -> list[str]:
    """The cache agent's provisioner, one process serving every sim node (a real node runs its
    own); no kubelet runs, so there is no read-only view to bind-mount."""
    node_args = [arg for node in nodes for arg in ("--node", node)]
    return [
        python,
        "-m",
        CACHE_AGENT_MODULE,
        f"--kubeconfig={paths.kubeconfig}",
        "--no-bind-mount",
        *node_args,
    ]
