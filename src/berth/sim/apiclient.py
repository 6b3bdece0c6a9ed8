"""A few REST calls to the sim's API server, made with httpx and the admin certificate.

The sim needs only create, get, list, watch and delete, to seed nodes and storage classes, to
wait for readiness and to provision volumes. The official client stays in `berth.kube`, the one
seam through which Berth talks to Kubernetes; the sim is its test double's *environment*, not a
second adapter.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from berth.kube.provisioning import watch_query


class ApiError(RuntimeError):
    """A non-2xx answer from the API server."""

    def __init__(self, status: int, method: str, path: str, body: str) -> None:
        self.status = status
        super().__init__(f"{method} {path}: HTTP {status}: {body[:500]}")


class ApiClient:
    """Blocking JSON calls against one API server as the sim's admin."""

    def __init__(self, server: str, ca: Path, cert: Path, key: Path, timeout: float = 10.0):
        context = ssl.create_default_context(cafile=str(ca))
        context.load_cert_chain(str(cert), str(key))
        self._http = httpx.Client(base_url=server, verify=context, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self._http.request(method, path, json=body)
        if response.status_code >= 300:
            raise ApiError(response.status_code, method, path, response.text)
        if not response.content:
            return None
        return response.json()

    def get(self, path: str) -> Any:
        return self._call("GET", path)

    def create(self, path: str, body: dict[str, Any]) -> Any:
        """POST; an object that already exists counts as created."""
        try:
            return self._call("POST", path, body)
        except ApiError as err:
            if err.status == 409:
                return None
            raise

    def watch(self, path: str, resource_version: str, seconds: int) -> Iterator[Any]:
        """The events of a watch of `path` from `resource_version` (bookmarks asked for), one
        JSON object per line, until the server ends it after `seconds`."""
        params = watch_query(resource_version, seconds)
        timeout = httpx.Timeout(10.0, read=seconds + 30.0)
        with self._http.stream("GET", path, params=params, timeout=timeout) as response:
            if response.status_code >= 300:
                raise ApiError(response.status_code, "GET", path, response.read().decode())
            for line in response.iter_lines():
                if line.strip():
                    yield json.loads(line)

    def delete(self, path: str) -> None:
        """DELETE; an object already gone counts as deleted."""
        try:
            self._call("DELETE", path)
        except ApiError as err:
            if err.status != 404:
                raise

    def ready(self) -> bool:
        """True when /readyz answers ok; False while the server is still starting."""
        try:
            response = self._http.get("/readyz")
        except httpx.HTTPError:
            return False
        return response.status_code == 200
