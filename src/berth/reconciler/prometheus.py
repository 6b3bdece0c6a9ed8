"""A small client of the Prometheus HTTP API (`/api/v1/query`), as clusters already run it:
a plain Prometheus, or OpenShift's monitoring stack (thanos-querier behind a bearer token, the
ServiceAccount's, read from its file at every query so a rotated token is picked up, and the
service CA). Instant queries only; each with a short timeout so a slow server never holds the
reconciler up."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx


class PrometheusError(Exception):
    """The query did not answer: unreachable, timed out, refused, or an error status."""


@dataclass(frozen=True)
class Series:
    labels: dict[str, str]
    value: float


@dataclass(frozen=True)
class Prometheus:
    url: str
    token_file: Path | None = None
    ca_file: Path | None = None
    timeout: float = 5.0

    def _headers(self) -> dict[str, str]:
        if self.token_file is None:
            return {}
        try:
            token = self.token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise PrometheusError(f"cannot read the token file {self.token_file}: {exc}") from exc
        return {"Authorization": f"Bearer {token}"}

    def query(self, promql: str, at: datetime) -> list[Series]:
        """An instant vector at `at` (POST, so a long query never meets a URL limit)."""
        verify: str | bool = str(self.ca_file) if self.ca_file is not None else True
        try:
            r = httpx.post(
                f"{self.url}/api/v1/query",
                data={"query": promql, "time": f"{at.timestamp():.3f}"},
                headers=self._headers(),
                timeout=self.timeout,
                verify=verify,
            )
        except httpx.HTTPError as exc:
            raise PrometheusError(f"{self.url}: {type(exc).__name__}: {exc}") from exc
        try:
            body = r.json()
        except ValueError:
            body = {}
        if r.status_code != 200 or body.get("status") != "success":
            detail = body.get("error") or r.text[:200]
            raise PrometheusError(f"{self.url} answered {r.status_code}: {detail}")
        data = body.get("data", {})
        if data.get("resultType") != "vector":
            raise PrometheusError(f"expected a vector, got {data.get('resultType')!r}")
        out = []
        for item in data.get("result", []):
            value = float(item["value"][1])
            if math.isfinite(value):  # NaN: nothing to average over
                out.append(Series(dict(item.get("metric", {})), value))
        return out
