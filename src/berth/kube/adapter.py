"""KubeCluster: the Cluster port on the official `kubernetes` client.

Every write is a server-side apply (PATCH, `application/apply-patch+yaml`, field manager
`berth`, forced), so applying a step twice is a no-op and there is never a create-or-update
branch. Objects are plain dicts, so requests go through the client's ApiClient directly (it
keeps the kubeconfig's authentication, TLS and token refresh) and answers are read as JSON
without building the generated models, which matters when an idle cycle lists a thousand
namespaces. REST paths are found by API discovery, once per group-version. Every HTTP call
counts in `requests`, the figure the benchmark reports per idle cycle.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import urllib3
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from berth.kube import diagnosis
from berth.kube.cluster import Manifest, NamespaceInfo, ObjectRef, WorkspaceState
from berth.kube.errors import Conflict, KubeError, NotFound, Terminal
from berth.kube.manifests.common import APP_LABEL, FIELD_MANAGER, WORKSPACE
from berth.kube.provisioning import watch_query
from berth.kube.translate import translate, unreachable

APPLY_CONTENT_TYPE = "application/apply-patch+yaml"
OPENSHIFT_ROUTE_GROUP = "route.openshift.io"
# (connect, read) seconds: a hung API server becomes a Transient error, not a stuck cycle. With
# the one retry below, a request to an API server that accepts connections but never answers
# (SIGSTOPped, overloaded) gives up after at most 2 x (connect + read) seconds.
DEFAULT_TIMEOUT = (5.0, 30.0)
APPLY_THREADS = 16  # objects applied at once across all sessions (apply_together)
CONNECTIONS = 32  # pooled connections to the API server
CLUSTER_SCOPED_KINDS = (
    ("rbac.authorization.k8s.io/v1", "ClusterRole"),
    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
    ("v1", "PersistentVolume"),
)
OPENSHIFT_CLUSTER_SCOPED_KINDS = (("security.openshift.io/v1", "SecurityContextConstraints"),)


@dataclass(frozen=True)
class Resource:
    """Where a kind lives in the REST tree."""

    base: str  # /api/v1 or /apis/<group>/<version>
    plural: str
    namespaced: bool

    def path(self, name: str | None = None, namespace: str | None = None) -> str:
        parts = [self.base]
        if self.namespaced and namespace is not None:
            parts += ["namespaces", namespace]
        parts.append(self.plural)
        if name is not None:
            parts.append(name)
        return "/".join(parts)


def _base(api_version: str) -> str:
    return "/api/v1" if api_version == "v1" else f"/apis/{api_version}"


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


class KubeCluster:
    """The real Cluster. Thread-safe for concurrent calls; close() when done."""

    def __init__(
        self,
        api_client: client.ApiClient,
        *,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> None:
        self.api_client = api_client
        self.requests = 0
        self._timeout = timeout
        self._lock = threading.Lock()
        self._resources: dict[str, dict[str, Resource]] = {}
        self._openshift: bool | None = None
        self._pool: ThreadPoolExecutor | None = None

    @classmethod
    def from_kubeconfig(
        cls,
        path: str | None = None,
        context: str | None = None,
        *,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
    ) -> KubeCluster:
        """A cluster from a kubeconfig file and context; with neither, the default kubeconfig
        ($KUBECONFIG or ~/.kube/config), else the in-cluster service account. `timeout`:
        (connect, read) seconds of every request."""
        configuration = client.Configuration()
        try:
            config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=path,
                context=context,
                client_configuration=configuration,
                persist_config=False,
            )
        except (ConfigException, OSError, yaml.YAMLError) as err:  # absent, unreadable, not YAML
            if path is not None or context is not None:
                raise Terminal(f"kubeconfig {path or '(default)'}: {err}") from err
            try:
                config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
            except ConfigException as in_cluster:
                raise Terminal(
                    f"no kubeconfig ({err}) and not in a cluster ({in_cluster})"
                ) from in_cluster
        # One retry covers a pooled connection the server closed meanwhile; anything longer is
        # the reconciler's to retry with its backoff, not a cycle stalled inside urllib3.
        configuration.retries = 1
        # the reconciler's session workers times the objects each applies at once: keep their
        # connections instead of opening (and TLS-handshaking) throw-away ones
        configuration.connection_pool_maxsize = CONNECTIONS
        return cls(client.ApiClient(configuration), timeout=timeout)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        self.api_client.close()  # type: ignore[no-untyped-call]

    def __enter__(self) -> KubeCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- HTTP ------------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str | None = None,
        parse: bool = True,
    ) -> Any:
        """One HTTP request; the parsed JSON answer (the raw bytes with `parse=False`), or a
        berth.kube.errors exception."""
        what = f"{method} {path}"
        headers = {"Accept": "application/json"}
        if content_type is not None:
            headers["Content-Type"] = content_type
        elif body is not None:
            headers["Content-Type"] = "application/json"
        method, url, headers, body, _ = self.api_client.param_serialize(
            method=method,
            resource_path=path,
            query_params=list((query or {}).items()),
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        with self._lock:
            self.requests += 1
        try:
            response = self.api_client.call_api(
                method, url, header_params=headers, body=body, _request_timeout=self._timeout
            )
            data = response.read()  # type: ignore[no-untyped-call]
        except ApiException as err:  # the client's wrapper of TLS failures (status 0)
            raise unreachable(err, what) from err
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise unreachable(err, what) from err
        if response.status >= 300:
            raise translate(response.status, dict(response.headers), data, what)
        if not parse:
            return data
        return json.loads(data) if data else None

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: Mapping[str, str] | None = None,
        parse: bool = True,
    ) -> Any:
        """One request on a REST path, its JSON answer (raw bytes with `parse=False`), for the
        few callers that speak in paths rather than through the Cluster port (the cache agent's
        provisioner, `berth-serve` and `berth-policy` in a session)."""
        return self._call(method, path, body=body, query=query, parse=parse)

    def watch(self, path: str, resource_version: str, seconds: int) -> Iterator[Any]:
        """The events of a watch of `path` from `resource_version` (bookmarks asked for), one
        JSON object per line as the server streams them, until it ends the watch after
        `seconds` (for the cache agent's provisioner, `berth.kube.provisioning`)."""
        what = f"WATCH {path}"
        query = watch_query(resource_version, seconds)
        method, url, headers, _, _ = self.api_client.param_serialize(
            method="GET",
            resource_path=path,
            query_params=list(query.items()),
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
        )
        with self._lock:
            self.requests += 1
        try:
            response = self.api_client.call_api(
                method, url, header_params=headers, _request_timeout=(10.0, seconds + 30.0)
            )
        except ApiException as err:
            raise unreachable(err, what) from err
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise unreachable(err, what) from err
        raw = response.response  # urllib3's, not read yet: its lines as they come
        try:
            if response.status >= 300:
                raise translate(response.status, dict(response.headers), raw.read(), what)
            for line in raw:
                if line.strip():
                    yield json.loads(line)
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise unreachable(err, what) from err
        finally:
            raw.release_conn()

    # -- discovery -------------------------------------------------------------------------

    def resource(self, api_version: str, kind: str) -> Resource:
        """The REST location of a kind, from discovery (one request per group-version)."""
        kinds = self._resources.get(api_version)
        if kinds is None:
            base = _base(api_version)
            try:
                listing = self._call("GET", base)
            except NotFound as err:
                raise Terminal(f"{api_version} is not served by this cluster") from err
            kinds = {
                r["kind"]: Resource(base, r["name"], bool(r["namespaced"]))
                for r in listing.get("resources", [])
                if "/" not in r["name"]  # subresources such as deployments/status
            }
            self._resources[api_version] = kinds
        if kind not in kinds:
            raise Terminal(f"{api_version} has no kind {kind}")
        return kinds[kind]

    def _object_path(self, manifest: Manifest) -> str:
        res = self.resource(manifest["apiVersion"], manifest["kind"])
        metadata = manifest["metadata"]
        namespace = metadata.get("namespace")
        if res.namespaced and not namespace:
            raise Terminal(f"{manifest['kind']} {metadata['name']} needs a namespace")
        return res.path(metadata["name"], namespace if res.namespaced else None)

    # -- the Cluster port ------------------------------------------------------------------

    def _apply_one(self, manifest: Manifest, path: str, manager: str = FIELD_MANAGER) -> Any:
        return self._call(
            "PATCH",
            path,
            query={"fieldManager": manager, "force": "true"},
            body=dict(manifest),
            content_type=APPLY_CONTENT_TYPE,
        )

    def apply(self, objects: Sequence[Manifest], *, manager: str = FIELD_MANAGER) -> None:
        """Server-side apply each object, in order, as field manager `manager` (the
        reconciler's `berth`; the tools in a session name themselves)."""
        for manifest in objects:
            self._apply_one(manifest, self._object_path(manifest), manager)

    def apply_together(self, objects: Sequence[Manifest]) -> None:
        if len(objects) <= 1:
            self.apply(objects)
            return
        paths = [self._object_path(m) for m in objects]  # discovery once, before the threads
        futures = [
            self._applier().submit(self._apply_one, m, p)
            for m, p in zip(objects, paths, strict=True)
        ]
        wait(futures)
        for future in futures:
            error = future.exception()
            if error is not None:
                raise error

    def _applier(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(APPLY_THREADS, thread_name_prefix="kube-apply")
            return self._pool

    def reapply(self, objects: Sequence[Manifest]) -> list[ObjectRef]:
        """Two requests an object: read its resourceVersion, apply. A forced apply that changes
        nothing is not written (the version stays), so a new version means the object differed
        from Berth's fields; a missing one had been deleted. Quantities and defaults need no
        comparison of our own: the API server decides what is a change."""
        changed: list[ObjectRef] = []
        for manifest in objects:
            path = self._object_path(manifest)
            try:
                before = self._call("GET", path)["metadata"]["resourceVersion"]
            except NotFound:
                before = None
            after = self._apply_one(manifest, path)["metadata"]["resourceVersion"]
            if after != before:
                metadata = manifest["metadata"]
                changed.append(
                    ObjectRef(
                        manifest["apiVersion"],
                        manifest["kind"],
                        metadata["name"],
                        metadata.get("namespace"),
                        dict(metadata.get("labels") or {}),
                    )
                )
        return changed

    def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> dict[str, Any]:
        """One object as a dict; NotFound when it is not there."""
        result: dict[str, Any] = self._call(
            "GET", self.resource(api_version, kind).path(name, namespace)
        )
        return result

    def list_objects(
        self, api_version: str, kind: str, namespace: str, selector: str
    ) -> list[dict[str, Any]]:
        listing = self._call(
            "GET",
            self.resource(api_version, kind).path(None, namespace),
            query={"labelSelector": selector},
        )
        items: list[dict[str, Any]] = listing.get("items", [])
        return items

    def delete_namespace(self, name: str) -> None:
        # 409: already Terminating ("the system is ensuring all content is removed").
        with contextlib.suppress(NotFound, Conflict):
            self._call(
                "DELETE", f"/api/v1/namespaces/{name}", body={"propagationPolicy": "Background"}
            )

    def namespaces(self, selector: str) -> list[NamespaceInfo]:
        listing = self._call("GET", "/api/v1/namespaces", query={"labelSelector": selector})
        return [
            NamespaceInfo(
                name=item["metadata"]["name"],
                labels=dict(item["metadata"].get("labels") or {}),
                phase=(item.get("status") or {}).get("phase", "Active"),
                deleting_since=_parse_time(item["metadata"].get("deletionTimestamp")),
                finalizers=tuple((item.get("spec") or {}).get("finalizers") or ()),
            )
            for item in listing.get("items", [])
        ]

    def workspace_state(self, namespace: str) -> WorkspaceState:
        try:
            found = self._call(
                "GET", f"/apis/apps/v1/namespaces/{namespace}/deployments/{WORKSPACE}"
            )
        except NotFound:
            return WorkspaceState(False, "the workspace Deployment does not exist")
        return diagnosis.deployment_state(found)

    def diagnose_workspace(self, namespace: str) -> str:
        base = f"/api/v1/namespaces/{namespace}"
        pods = self._call(
            "GET", f"{base}/pods", query={"labelSelector": f"{APP_LABEL}={WORKSPACE}"}
        )
        claims = self._call("GET", f"{base}/persistentvolumeclaims")
        events = self._call("GET", f"{base}/events")  # every type: see diagnosis._claims
        try:
            deployment = self._call(
                "GET", f"/apis/apps/v1/namespaces/{namespace}/deployments/{WORKSPACE}"
            )
        except NotFound:
            deployment = None
        return diagnosis.explain(
            deployment,
            pods.get("items", []),
            claims.get("items", []),
            events.get("items", []),
        )

    def cluster_scoped(self, selector: str) -> list[ObjectRef]:
        kinds = list(CLUSTER_SCOPED_KINDS)
        if self.is_openshift():
            kinds += OPENSHIFT_CLUSTER_SCOPED_KINDS
        found: list[ObjectRef] = []
        for api_version, kind in kinds:
            listing = self._call(
                "GET",
                self.resource(api_version, kind).path(),
                query={"labelSelector": selector},
            )
            found += [
                ObjectRef(
                    api_version=api_version,
                    kind=kind,
                    name=item["metadata"]["name"],
                    labels=dict(item["metadata"].get("labels") or {}),
                )
                for item in listing.get("items", [])
            ]
        return found

    def delete(self, ref: ObjectRef) -> None:
        path = self.resource(ref.api_version, ref.kind).path(ref.name, ref.namespace)
        with contextlib.suppress(NotFound):
            self._call("DELETE", path, body={"propagationPolicy": "Background"})

    def clear_namespace_finalizers(self, name: str) -> None:
        try:
            current = self._call("GET", f"/api/v1/namespaces/{name}")
            current.setdefault("spec", {})["finalizers"] = []
            self._call("PUT", f"/api/v1/namespaces/{name}/finalize", body=current)
        except NotFound:
            pass

    def healthy(self) -> bool:
        try:
            self._call("GET", "/readyz", parse=False)
        except KubeError:
            return False
        return True

    def is_openshift(self) -> bool:
        if self._openshift is None:
            groups = self._call("GET", "/apis").get("groups", [])
            self._openshift = any(g.get("name") == OPENSHIFT_ROUTE_GROUP for g in groups)
        return self._openshift
