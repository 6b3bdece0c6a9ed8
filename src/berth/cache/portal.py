"""The cache agent's side of the portal protocol (`berth.domain.cache_protocol`): GET the node's
plan, PUT its state, with the node's bearer credential (`berth cache token --node NODE`).

The credential is read from the token file at every request (a rotated token is picked up
without a restart), else from `BERTH_CACHE_AGENT_TOKEN`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import httpx

from berth.domain.cache_protocol import (
    PLAN_PATH,
    STATE_PATH,
    TOKEN_ENV,
    NodeReport,
    Plan,
    plan_from_json,
    report_to_json,
)


class Portal(Protocol):
    def plan(self, node: str) -> Plan: ...
    def report(self, node: str, report: NodeReport) -> None: ...


class PortalError(RuntimeError):
    pass


@dataclass
class HttpPortal:
    base_url: str
    client: httpx.Client
    token_file: Path | None = None

    def _headers(self) -> dict[str, str]:
        token = (
            self.token_file.read_text(encoding="utf-8").strip()
            if self.token_file is not None
            else os.environ.get(TOKEN_ENV, "")
        )
        return {"authorization": f"Bearer {token}"} if token else {}

    def _url(self, template: str, node: str) -> str:
        return self.base_url.rstrip("/") + template.format(node=node)

    def plan(self, node: str) -> Plan:
        try:
            response = self.client.get(self._url(PLAN_PATH, node), headers=self._headers())
        except httpx.HTTPError as exc:
            raise PortalError(f"GET plan: {type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            raise PortalError(f"GET plan: HTTP {response.status_code} {response.text[:200]}")
        try:
            return plan_from_json(response.json())
        except ValueError as exc:
            raise PortalError(f"GET plan: {exc}") from exc

    def report(self, node: str, report: NodeReport) -> None:
        try:
            response = self.client.put(
                self._url(STATE_PATH, node), json=report_to_json(report), headers=self._headers()
            )
        except httpx.HTTPError as exc:
            raise PortalError(f"PUT state: {type(exc).__name__}: {exc}") from exc
        if response.status_code not in (200, 204):
            raise PortalError(f"PUT state: HTTP {response.status_code} {response.text[:200]}")
