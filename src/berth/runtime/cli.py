"""`berth-serve` and `berth-policy`: model servers and agent policies inside a session.

Both run in the workspace (or anywhere with a kubeconfig for the session namespace) with the
namespace's own permissions, nothing more: they read the session's `berth-runtime` ConfigMap and
write ordinary Deployments, Services and NetworkPolicies the namespace's `admin` may write.
Every refusal is one line on stderr and a non-zero exit code, never a traceback:

    2  the request does not fit the catalog (unknown engine or model, format, name)
    3  the cluster refused it (the session's quota, an admission policy)
    4  not ready within the budget (the last reason is printed)
    5  the cluster cannot be reached or the namespace is not a session
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from kubernetes import config

from berth.kube import diagnosis
from berth.kube.adapter import KubeCluster
from berth.kube.errors import KubeError, NotFound
from berth.kube.manifests.common import ROLE_LABEL, RUNTIME, SERVER_LABEL
from berth.runtime import policy, servers
from berth.runtime.servers import Refused

SA_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
EXIT_INPUT, EXIT_REFUSED, EXIT_TIMEOUT, EXIT_CLUSTER = 2, 3, 4, 5
MANAGER = "berth-runtime-tools"  # field manager of what berth-serve and berth-policy apply
OTHERS = "(others)"  # the table's row and column for pods with no role (but the workspace)


class Failed(Exception):
    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def current_namespace(
    explicit: str | None, context: str | None, kubeconfig: str | None = None
) -> str:
    """--namespace, else $BERTH_NAMESPACE, else the in-cluster ServiceAccount's namespace, else
    the kubeconfig context's namespace."""
    if explicit:
        return explicit
    if os.environ.get("BERTH_NAMESPACE"):
        return os.environ["BERTH_NAMESPACE"]
    if SA_NAMESPACE.is_file():
        return SA_NAMESPACE.read_text().strip()
    try:
        contexts, active = config.list_kube_config_contexts(  # type: ignore[no-untyped-call]
            config_file=kubeconfig
        )
    except Exception as exc:  # no kubeconfig at all
        raise Failed(f"no namespace: pass --namespace ({exc})", EXIT_CLUSTER) from exc
    chosen = next((c for c in contexts if c["name"] == context), active) if context else active
    namespace = (chosen or {}).get("context", {}).get("namespace")
    if not namespace:
        raise Failed("no namespace in the kubeconfig context: pass --namespace", EXIT_CLUSTER)
    return str(namespace)


def connect(kubeconfig: str | None, context: str | None) -> KubeCluster:
    """The cluster as this user sees it (tests replace this to act as the tenant)."""
    return KubeCluster.from_kubeconfig(kubeconfig, context)


class Session:
    """One session namespace, through the adapter's REST calls."""

    def __init__(self, kube: KubeCluster, namespace: str) -> None:
        self.kube, self.namespace = kube, namespace
        self.base = f"/api/v1/namespaces/{namespace}"
        self.apps = f"/apis/apps/v1/namespaces/{namespace}"
        self.net = f"/apis/networking.k8s.io/v1/namespaces/{namespace}"

    def runtime(self) -> servers.Runtime:
        try:
            found = self.kube.request("GET", f"{self.base}/configmaps/{RUNTIME}")
        except NotFound as exc:
            raise Failed(
                f"namespace {self.namespace} has no {RUNTIME} ConfigMap: not a Berth session "
                "(or one made before the runtime plane)",
                EXIT_CLUSTER,
            ) from exc
        return servers.parse_runtime(found)

    def items(self, path: str, selector: str | None = None) -> list[dict[str, Any]]:
        query = {"labelSelector": selector} if selector else None
        items: list[dict[str, Any]] = self.kube.request("GET", path, query=query).get("items", [])
        return items

    def deployments(self) -> list[dict[str, Any]]:
        return self.items(f"{self.apps}/deployments", SERVER_LABEL)

    def get(self, path: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = self.kube.request("GET", path)
        except NotFound:
            return None
        return found

    def delete(self, path: str) -> None:
        with contextlib.suppress(NotFound):
            self.kube.request("DELETE", path, {"propagationPolicy": "Background"})

    def stop(self, name: str) -> bool:
        found = self.get(f"{self.apps}/deployments/{name}")
        if found is None or SERVER_LABEL not in (found["metadata"].get("labels") or {}):
            return False
        self.delete(f"{self.apps}/deployments/{name}")
        self.delete(f"{self.base}/services/{name}")
        return True

    def policies(self) -> list[dict[str, Any]]:
        return self.items(f"{self.net}/networkpolicies")

    def namespace_labels(self) -> dict[str, str]:
        found = self.kube.request("GET", self.base)
        return dict(found["metadata"].get("labels") or {})


# -- berth-serve -----------------------------------------------------------------------------


def _server_names(session: Session) -> list[str]:
    return sorted(d["metadata"]["name"] for d in session.deployments())


def _progress(out: TextIO) -> Callable[[str], None]:
    """On a terminal, one line rewritten in place (its clock ticking); elsewhere (a log, a
    pipe) a line each time the reason changes."""
    last = [""]
    tty = out.isatty()

    def show(line: str) -> None:
        reason = line.split("] ", 1)[-1]
        if tty:
            out.write("\r\033[K" + line)
        elif reason != last[0]:
            out.write(line + "\n")
        last[0] = reason
        out.flush()

    return show


def wait_ready(
    session: Session,
    plan: servers.Plan,
    budget: float,
    show: Callable[[str], None],
    *,
    session_resource: str,
    poll: float = 1.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Until the server's Deployment has an available replica, showing why not; `Failed` on a
    refusal (objects removed) or when the budget is spent (objects left for `logs`)."""
    deadline = clock() + budget
    started = clock()
    reason = "starting"
    while True:
        deployment = session.get(f"{session.apps}/deployments/{plan.name}")
        if deployment is None:
            raise Failed(f"server {plan.name} was deleted while starting", EXIT_REFUSED)
        state = diagnosis.deployment_state(deployment)
        if state.ready:
            return
        if state.reason:
            refusal = servers.explain_refusal(
                state.reason,
                session_resource=session_resource,
                servers=[n for n in _server_names(session) if n != plan.name],
            )
            if refusal is not None:
                session.stop(plan.name)
                raise Failed(refusal, EXIT_REFUSED)
            reason = state.reason
        pods = session.items(f"{session.base}/pods", f"{SERVER_LABEL}={plan.name}")
        problems = [line for p in pods for line in diagnosis.pod_problems(p)]
        if problems:
            reason = problems[0]
        elif pods:
            reason = "pod scheduled, engine starting (readiness probe " + (
                f"{plan.engine.ready_path})"
            )
        show(f"[{clock() - started:4.0f}s] {plan.name}: {reason}")
        if clock() >= deadline:
            raise Failed(
                f"{plan.name} not ready after {budget:.0f} s: {reason} "
                f"(berth-serve logs {plan.name}; berth-serve stop {plan.name})",
                EXIT_TIMEOUT,
            )
        sleep(poll)


def serve(
    session: Session, req: servers.Request, budget: float, out: TextIO, *, wait: bool = True
) -> str:
    """Create the server, wait for it (unless not `wait`), return its URL."""
    rt = session.runtime()
    plan = servers.plan(rt, req, session.namespace)
    if session.get(f"{session.apps}/deployments/{plan.name}") is not None:
        raise Failed(
            f"a server {plan.name} exists already (berth-serve stop {plan.name}, or --name)",
            EXIT_INPUT,
        )
    if req.role is not None:
        ensure_open_unless_managed(session)
    session.kube.apply([plan.service, plan.deployment], manager=MANAGER)
    out.write(
        f"{plan.name}: {plan.engine.name} serving {plan.model.id} from {plan.model.directory} "
        f"({req.gpus} x {plan.resource})\n"
    )
    if wait:
        wait_ready(session, plan, budget, _progress(out), session_resource=rt.gpu_resource)
    return plan.url


def list_servers(session: Session) -> str:
    rt = session.runtime()
    rows = [["NAME", "ENGINE", "MODEL", "ROLE", "READY", "URL"]]
    for d in sorted(session.deployments(), key=lambda d: d["metadata"]["name"]):
        labels = d["metadata"].get("labels") or {}
        name = d["metadata"]["name"]
        engine = next((e for e in rt.engines if e.name == labels.get("berth.io/engine")), None)
        ready = "yes" if diagnosis.deployment_state(d).ready else "no"
        url = servers.server_url(name, session.namespace, engine) if engine else "?"
        rows.append(
            [
                name,
                labels.get("berth.io/engine", "?"),
                labels.get("berth.io/model", "?"),
                labels.get(ROLE_LABEL, "-"),
                ready,
                url,
            ]
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )


def logs(session: Session, name: str, tail: int) -> str:
    pods = session.items(f"{session.base}/pods", f"{SERVER_LABEL}={name}")
    if not pods:
        raise Failed(f"no pod of server {name} (berth-serve list)", EXIT_INPUT)
    newest = max(pods, key=lambda p: p["metadata"].get("creationTimestamp", ""))
    pod = newest["metadata"]["name"]
    try:
        data = session.kube.request(
            "GET",
            f"{session.base}/pods/{pod}/log",
            query={"container": servers.CONTAINER, "tailLines": str(tail)},
            parse=False,
        )
    except KubeError as exc:
        raise Failed(f"no logs of {pod} yet: {exc}", EXIT_INPUT) from exc
    return bytes(data).decode(errors="replace")


def ensure_open_unless_managed(session: Session) -> None:
    """A first agent: until berth-policy manages the namespace, agents reach every pod."""
    if policy.state(session.policies()) == "unset":
        session.kube.apply([policy.open_policy(session.namespace)], manager=MANAGER)


SERVE_HELP = """Model servers from the session's cache, in one line.

  berth-serve ENGINE MODEL [--name N] [--role R] [--gpus 1]   start one, wait, print its URL
  berth-serve list                                            the servers of this session
  berth-serve logs NAME [--tail 100]                          its engine's log
  berth-serve stop NAME                                       delete it (Deployment, Service)

Engines and models are the session's catalog (ConfigMap berth-runtime); the model is mounted
read-only from /cache; each server takes --gpus slots of the session's GPU resource.
"""


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--namespace", "-n", help="the session namespace (default: this one)")
    parser.add_argument("--kubeconfig", help="kubeconfig (default: in-cluster, or ~/.kube)")
    parser.add_argument("--context", help="kubeconfig context")


def _session(args: argparse.Namespace) -> Session:
    namespace = current_namespace(args.namespace, args.context, args.kubeconfig)
    try:
        kube = connect(args.kubeconfig, args.context)
    except KubeError as exc:
        raise Failed(f"cannot reach the cluster: {exc}", EXIT_CLUSTER) from exc
    return Session(kube, namespace)


def _run(action: Callable[[], int], err: TextIO) -> int:
    try:
        return action()
    except Refused as exc:
        err.write(f"berth: {exc}\n")
        return EXIT_INPUT
    except Failed as exc:
        err.write(f"\nberth: {exc}\n" if exc.code == EXIT_TIMEOUT else f"berth: {exc}\n")
        return exc.code
    except KubeError as exc:
        line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        refusal = servers.explain_refusal(line, session_resource="?", servers=[])
        err.write(f"berth: {refusal or 'the cluster answered: ' + line}\n")
        return EXIT_REFUSED if refusal else EXIT_CLUSTER


def serve_main(argv: Sequence[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    out, err = sys.stdout, sys.stderr
    verbs = {"list", "logs", "stop"}
    if not args_in or args_in[0] in ("-h", "--help"):
        out.write(SERVE_HELP)
        return 0 if args_in else EXIT_INPUT
    if args_in[0] in verbs:
        parser = argparse.ArgumentParser(prog=f"berth-serve {args_in[0]}")
        if args_in[0] != "list":
            parser.add_argument("name")
        if args_in[0] == "logs":
            parser.add_argument("--tail", type=int, default=100)
        _common(parser)
        args = parser.parse_args(args_in[1:])

        def verb() -> int:
            session = _session(args)
            if args_in[0] == "list":
                out.write(list_servers(session) + "\n")
            elif args_in[0] == "logs":
                out.write(logs(session, args.name, args.tail))
            elif not session.stop(args.name):
                raise Failed(f"no server {args.name} (berth-serve list)", EXIT_INPUT)
            else:
                out.write(f"{args.name} stopped\n")
            return 0

        return _run(verb, err)
    parser = argparse.ArgumentParser(prog="berth-serve", usage=SERVE_HELP)
    parser.add_argument("engine")
    parser.add_argument("model")
    parser.add_argument("--name", help="server (Deployment and Service) name")
    parser.add_argument("--role", help="agent role, for berth-policy (label berth.io/role)")
    parser.add_argument("--gpus", type=int, default=1, help="GPU slots (default 1; 0: none)")
    parser.add_argument(
        "--resource", help="another GPU resource than the session's (the quota decides)"
    )
    parser.add_argument("--cpu", help="CPU request and limit (default: the session's defaults)")
    parser.add_argument("--memory", help="memory request and limit (e.g. 16Gi)")
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="seconds to wait for readiness"
    )
    parser.add_argument("--no-wait", action="store_true", help="create it and return")
    _common(parser)
    args = parser.parse_args(args_in)
    req = servers.Request(
        args.engine,
        args.model,
        name=args.name,
        role=args.role,
        gpus=args.gpus,
        resource=args.resource,
        cpu=args.cpu,
        memory=args.memory,
    )

    def start() -> int:
        url = serve(_session(args), req, args.timeout, out, wait=not args.no_wait)
        out.write(f"\n{'ready' if not args.no_wait else 'created'}: {url}\n")
        return 0

    return _run(start, err)


# -- berth-policy ----------------------------------------------------------------------------


POLICY_HELP = """Who may reach whom among the session's agents (pods labelled berth.io/role).

  berth-policy allow FROM_ROLE TO_ROLE [--port N]   FROM may reach TO (on port N; again: more)
  berth-policy deny FROM_ROLE TO_ROLE               take that back
  berth-policy show                                 the who-can-reach-whom table
  berth-policy reset                                back to open: agents reach every pod

Once allow or deny has been used, agents reach only what is allowed; the workspace (and any
pod without a role) reaches every pod.
"""


def manage(session: Session) -> None:
    """Enter the managed state: the marker, and no open policy."""
    session.kube.apply([policy.default_policy(session.namespace)], manager=MANAGER)
    session.delete(f"{session.net}/networkpolicies/{policy.OPEN}")


def allow(session: Session, source: str, target: str, port: int | None) -> Any:
    for role in (source, target):
        if not servers.LABEL_VALUE.match(role):
            raise Refused(f"role {role!r}: lower-case letters, digits, '.', '_' and '-'")
    path = f"{session.net}/networkpolicies/{policy.allow_name(source, target)}"
    existing = session.get(path)
    ports: list[int] = []
    if port is not None:
        if existing is not None and policy.allowed_ports(existing) is None:
            ports = []  # already every port
        else:
            ports = [*(policy.allowed_ports(existing) or []), port]
    manage(session)
    session.kube.apply(
        [policy.allow_policy(session.namespace, source, target, ports)], manager=MANAGER
    )
    return ports


def deny(session: Session, source: str, target: str) -> bool:
    manage(session)
    path = f"{session.net}/networkpolicies/{policy.allow_name(source, target)}"
    existed = session.get(path) is not None
    session.delete(path)
    return existed


def reset(session: Session) -> None:
    for p in session.items(f"{session.net}/networkpolicies", policy.POLICY_LABEL):
        session.delete(f"{session.net}/networkpolicies/{p['metadata']['name']}")
    session.kube.apply([policy.open_policy(session.namespace)], manager=MANAGER)


def show(session: Session) -> str:
    """The table of who reaches whom: the workspace, each role, and a plain pod."""
    policies = session.policies()
    pods = [policy.workspace_pod({})]
    roles: dict[str, policy.Pod] = {}
    for d in session.deployments():
        labels = d["spec"]["template"]["metadata"].get("labels") or {}
        role = labels.get(ROLE_LABEL)
        if role and role not in roles:
            ports = tuple(
                int(p["containerPort"])
                for c in d["spec"]["template"]["spec"]["containers"]
                for p in c.get("ports") or []
            )
            roles[role] = policy.Pod(role, labels, ports)
    for p in policies:
        for key in (policy.FROM_LABEL, policy.TO_LABEL):
            role = (p["metadata"].get("labels") or {}).get(key)
            if role and role not in roles:
                roles[role] = policy.Pod(role, {ROLE_LABEL: role})
    pods += [roles[r] for r in sorted(roles)]
    pods.append(policy.Pod(OTHERS, {}))
    cells = policy.reach(policies, pods, session.namespace_labels())
    mode = policy.state(policies)
    head = {
        "managed": "managed: agents reach only what is allowed",
        "open": "open: every agent reaches every pod (berth-policy allow/deny to manage)",
        "unset": "agents reach nothing yet (berth-policy allow, or reset to open)",
    }[mode]
    return f"{head}\n\n{policy.table(cells, [p.name for p in pods])}\n"


def policy_main(argv: Sequence[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    out, err = sys.stdout, sys.stderr
    if not args_in or args_in[0] in ("-h", "--help"):
        out.write(POLICY_HELP)
        return 0 if args_in else EXIT_INPUT
    parser = argparse.ArgumentParser(prog="berth-policy", usage=POLICY_HELP)
    sub = parser.add_subparsers(dest="verb", required=True)
    for verb in ("allow", "deny"):
        p = sub.add_parser(verb)
        p.add_argument("source", metavar="FROM_ROLE")
        p.add_argument("target", metavar="TO_ROLE")
        if verb == "allow":
            p.add_argument("--port", type=int)
        _common(p)
    for verb in ("show", "reset"):
        _common(sub.add_parser(verb))
    args = parser.parse_args(args_in)

    def act() -> int:
        session = _session(args)
        session.runtime()  # a Berth session, or say so
        if args.verb == "allow":
            ports = allow(session, args.source, args.target, args.port)
            on = f"on port {', '.join(map(str, ports))}" if ports else "on every port"
            out.write(f"{args.source} may reach {args.target} {on}\n")
        elif args.verb == "deny":
            existed = deny(session, args.source, args.target)
            note = "" if existed else " (it was not allowed)"
            out.write(f"{args.source} may no longer reach {args.target}{note}\n")
        elif args.verb == "reset":
            reset(session)
            out.write("open: every agent reaches every pod\n")
        else:
            out.write(show(session))
        return 0

    return _run(act, err)


def serve_command() -> None:
    """Console script `berth-serve`."""
    sys.exit(serve_main())


def policy_command() -> None:
    """Console script `berth-policy`."""
    sys.exit(policy_main())
