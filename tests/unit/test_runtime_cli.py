"""berth-serve and berth-policy without a cluster: the server's objects from the runtime
document, the one-line refusals, the agent policies and what they imply."""

from __future__ import annotations

from pathlib import Path

import pytest

from berth.catalog import load_catalog_file
from berth.kube.manifests.runtime import runtime_config
from berth.runtime import cli, policy, servers
from berth.runtime.servers import Refused
from tests.unit.test_manifests import make_spec

CATALOG = load_catalog_file()


def runtime() -> servers.Runtime:
    spec = make_spec()
    spec = type(spec)(**{**spec.__dict__, "catalog": CATALOG})
    return servers.parse_runtime(runtime_config(spec))


def test_a_server_mounts_the_cache_read_only_and_takes_the_sessions_gpu() -> None:
    rt = runtime()
    plan = servers.plan(rt, servers.Request("ollama", "demo-ollama-tiny", role="retriever"), "ns")
    assert plan.name == "ollama-demo-ollama-tiny"
    pod = plan.deployment["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert c["imagePullPolicy"] == "IfNotPresent"
    assert c["resources"]["limits"] == {"nvidia.com/mig-1g.24gb": "1"}
    assert c["volumeMounts"] == [{"name": "cache", "mountPath": "/cache", "readOnly": True}]
    assert pod["volumes"][0]["persistentVolumeClaim"] == {
        "claimName": "artifacts",
        "readOnly": True,
    }
    env = {e["name"]: e["value"] for e in c["env"]}
    assert env["OLLAMA_MODELS"] == "/cache/models/demo-ollama-tiny"
    assert env["OLLAMA_HOST"] == "0.0.0.0:11434"
    assert c["envFrom"] == [{"configMapRef": {"name": "berth-proxy"}}]
    assert c["readinessProbe"]["httpGet"] == {"path": "/", "port": "http"}
    labels = plan.deployment["spec"]["template"]["metadata"]["labels"]
    assert labels["berth.io/role"] == "retriever"
    assert labels["berth.io/server"] == plan.name
    assert plan.url == "http://ollama-demo-ollama-tiny.ns.svc:11434/v1"


def test_triton_is_pointed_at_the_model_repository() -> None:
    plan = servers.plan(runtime(), servers.Request("triton", "demo-triton-tiny", gpus=0), "ns")
    (c,) = plan.deployment["spec"]["template"]["spec"]["containers"]
    assert "--model-repository=/cache/models/demo-triton-tiny" in c["command"]
    assert "resources" not in c
    assert plan.url == "http://triton-demo-triton-tiny.ns.svc:8000"


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (servers.Request("sglang", "demo-hf-tiny"), "unknown engine 'sglang'"),
        (servers.Request("vllm", "qwen"), "model 'qwen' is not in the catalog"),
        (servers.Request("vllm", "demo-ollama-tiny"), "served by: ollama"),
        (servers.Request("vllm", "demo-hf-tiny", name="Bad_Name"), "--name 'Bad_Name'"),
    ],
)
def test_requests_that_do_not_fit_are_refused_in_one_line(
    request_: servers.Request, message: str
) -> None:
    with pytest.raises(Refused) as refused:
        servers.plan(runtime(), request_, "ns")
    assert message in str(refused.value)
    assert "\n" not in str(refused.value)


def test_quota_refusals_read_as_one_line() -> None:
    five = (
        'pods "a-1" is forbidden: exceeded quota: berth-quota, requested: '
        "requests.nvidia.com/gpu=1, used: requests.nvidia.com/gpu=4, limited: "
        "requests.nvidia.com/gpu=4"
    )
    line = servers.explain_refusal(five, session_resource="nvidia.com/gpu", servers=["a", "b"])
    assert line == (
        "refused by the session's quota: it allows 4 nvidia.com/gpu, 4 in use (servers: a, b), "
        "this server asks for 1; stop one (berth-serve stop NAME) or book more"
    )
    whole = five.replace("used: requests.nvidia.com/gpu=4", "used: requests.nvidia.com/gpu=0")
    whole = whole.replace(
        "limited: requests.nvidia.com/gpu=4", "limited: requests.nvidia.com/gpu=0"
    )
    line = servers.explain_refusal(whole, session_resource="nvidia.com/mig-1g.24gb", servers=[])
    assert line is not None
    assert "this booking has no nvidia.com/gpu (its GPU is nvidia.com/mig-1g.24gb" in line
    assert servers.explain_refusal("Progressing: waiting", session_resource="x", servers=[]) is None


def test_the_reachability_of_open_and_managed_agents() -> None:
    spec = make_spec()
    from berth.kube.manifests.network import egress_policy, ingress_policy

    base = [ingress_policy(spec, openshift=False), egress_policy(spec)]
    ns = {"kubernetes.io/metadata.name": spec.namespace}
    a, b = policy.Pod("a", {"berth.io/role": "a"}, (8000,)), policy.Pod("b", {"berth.io/role": "b"})
    ws, other = policy.workspace_pod({}), policy.Pod(cli.OTHERS, {})
    pods = [ws, a, b, other]
    unset = policy.reach(base, pods, ns)
    assert unset[("workspace", "a")] == "all"
    assert unset[("a", "b")] == "-"
    opened = policy.reach([*base, policy.open_policy(spec.namespace)], pods, ns)
    assert {v for (s, _), v in opened.items()} == {"all"}
    managed = [
        *base,
        policy.default_policy(spec.namespace),
        policy.allow_policy(spec.namespace, "b", "a", [8000]),
    ]
    cells = policy.reach(managed, pods, ns)
    assert cells[("b", "a")] == "8000"
    assert cells[("a", "b")] == "-"
    assert cells[("a", cli.OTHERS)] == "-"
    assert cells[(cli.OTHERS, "b")] == "all"
    assert policy.state(managed) == "managed"
    table = policy.table(cells, [p.name for p in pods])
    assert table.splitlines()[0].split()[3:] == ["workspace", "a", "b", cli.OTHERS]


class FakeSession:
    """What wait_ready reads: the Deployment, the server's pods, the other servers."""

    apps, base = "/apps", "/core"

    def __init__(self, deployments: list[dict[str, object]], pods: list[dict[str, object]]):
        self.deployments_seen, self.pods, self.stopped = deployments, pods, []

    def get(self, path: str) -> dict[str, object] | None:
        return (
            self.deployments_seen.pop(0)
            if len(self.deployments_seen) > 1
            else (self.deployments_seen[0])
        )

    def items(self, path: str, selector: str | None = None) -> list[dict[str, object]]:
        return self.pods

    def deployments(self) -> list[dict[str, object]]:
        return [{"metadata": {"name": n}} for n in ("a", "b")]

    def stop(self, name: str) -> bool:
        self.stopped.append(name)
        return True


def _plan() -> servers.Plan:
    return servers.plan(runtime(), servers.Request("vllm", "demo-hf-tiny", name="chat"), "ns")


def test_the_wait_shows_the_schedulers_reason_and_gives_up_at_its_budget() -> None:
    pending = {
        "metadata": {"name": "chat-1"},
        "status": {
            "phase": "Pending",
            "conditions": [
                {
                    "type": "PodScheduled",
                    "status": "False",
                    "message": "0/1 nodes are available: 1 Insufficient nvidia.com/mig-1g.24gb.",
                }
            ],
        },
    }
    session = FakeSession([{"metadata": {"name": "chat"}, "status": {}}], [pending])
    shown: list[str] = []
    ticks = iter(range(100))
    with pytest.raises(cli.Failed) as failed:
        cli.wait_ready(
            session,  # type: ignore[arg-type]
            _plan(),
            5,
            shown.append,
            session_resource="nvidia.com/mig-1g.24gb",
            clock=lambda: float(next(ticks)),
            sleep=lambda _: None,
        )
    assert failed.value.code == cli.EXIT_TIMEOUT
    assert "cannot be scheduled: 0/1 nodes are available" in str(failed.value)
    assert "Insufficient nvidia.com/mig-1g.24gb" in shown[-1]
    assert session.stopped == []  # left for `logs`


def test_a_quota_refusal_during_the_wait_removes_the_server_and_says_why() -> None:
    refused = {
        "metadata": {"name": "chat"},
        "status": {
            "conditions": [
                {
                    "type": "ReplicaFailure",
                    "status": "True",
                    "reason": "FailedCreate",
                    "message": 'pods "chat-1" is forbidden: exceeded quota: berth-quota, '
                    "requested: requests.nvidia.com/mig-1g.24gb=1, used: "
                    "requests.nvidia.com/mig-1g.24gb=2, limited: requests.nvidia.com/mig-1g.24gb=2",
                }
            ]
        },
    }
    session = FakeSession([refused], [])
    with pytest.raises(cli.Failed) as failed:
        cli.wait_ready(
            session,  # type: ignore[arg-type]
            _plan(),
            60,
            lambda _: None,
            session_resource="nvidia.com/mig-1g.24gb",
            sleep=lambda _: None,
        )
    assert failed.value.code == cli.EXIT_REFUSED
    assert str(failed.value).startswith(
        "refused by the session's quota: it allows 2 nvidia.com/mig-1g.24gb, 2 in use "
        "(servers: a, b)"
    )
    assert session.stopped == ["chat"]


def test_the_namespace_comes_from_the_kubeconfig_context(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BERTH_NAMESPACE", raising=False)
    monkeypatch.setattr(cli, "SA_NAMESPACE", tmp_path / "none")
    kubeconfig = tmp_path / "config"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: a\n"
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts:\n"
        "  - {name: a, context: {cluster: c, user: u, namespace: berth-0123456789ab}}\n"
        "  - {name: b, context: {cluster: c, user: u}}\n"
    )
    assert cli.current_namespace(None, None, str(kubeconfig)) == "berth-0123456789ab"
    assert cli.current_namespace("mine", None, str(kubeconfig)) == "mine"
    with pytest.raises(cli.Failed):
        cli.current_namespace(None, "b", str(kubeconfig))
    monkeypatch.setenv("BERTH_NAMESPACE", "from-env")
    assert cli.current_namespace(None, None, str(kubeconfig)) == "from-env"
