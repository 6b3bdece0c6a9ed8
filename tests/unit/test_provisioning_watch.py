"""The provisioners' loop (`kube.provisioning.serve`) against a fake API whose watches the test
feeds: a pass when a watched list changes, no list while nothing does, a pass at least every
`resync`, and after a watch fails or its version expired, a fresh list and a watch resumed from
that list's version."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from berth.cache.provisioner import cache_provisioner, storage_class
from berth.kube.provisioning import CLAIMS, CLASSES, VOLUMES, WATCHED, Json, serve
from tests.conftest import eventually
from tests.unit.test_cache_provisioner import claim


class WatchedApi:
    """A cluster's three lists, and watches that block until the test feeds them an event
    (or an exception to raise, or None to end the watch as the server does)."""

    def __init__(self) -> None:
        self.objects: dict[str, list[Json]] = {
            CLASSES: [storage_class("berth-cache")],
            CLAIMS: [],
            VOLUMES: [],
        }
        self.version = 1
        self.lists = 0
        self.created: list[Json] = []
        self.watches: list[tuple[str, str]] = []
        self.feeds: dict[str, queue.Queue[Json | Exception | None]] = {
            path: queue.Queue() for path in WATCHED
        }
        self.lock = threading.Lock()

    def get(self, path: str) -> Any:
        with self.lock:
            self.lists += 1
            items = list(self.objects[path])
            return {"metadata": {"resourceVersion": str(self.version)}, "items": items}

    def create(self, path: str, body: Json) -> Any:
        with self.lock:
            self.created.append(body)
            self.objects[VOLUMES].append(body)
        return body

    def delete(self, path: str) -> None:
        raise AssertionError(f"nothing is released here: {path}")

    def watch(self, path: str, resource_version: str, seconds: int) -> Iterator[Json]:
        with self.lock:
            self.watches.append((path, resource_version))
        while True:
            item = self.feeds[path].get()
            if isinstance(item, Exception):
                raise item
            if item is None:
                return
            yield item

    def add_claim(self, uid: str) -> None:
        """A claim appears, and its watch says so."""
        with self.lock:
            self.version += 1
            made = claim(uid=uid)
            made["metadata"]["resourceVersion"] = str(self.version)
            self.objects[CLAIMS].append(made)
        self.feeds[CLAIMS].put({"type": "ADDED", "object": made})

    def watching(self, path: str) -> list[str]:
        with self.lock:
            return [v for p, v in self.watches if p == path]


def until(check: Callable[[], bool], what: str, budget: float = 5.0) -> None:
    def holds() -> None:
        assert check(), f"not within {budget:.0f} s: {what}"

    eventually(holds, timeout=budget, interval=0.01)


@pytest.fixture
def served() -> Iterator[tuple[WatchedApi, Callable[[float], None]]]:
    """The fake API, and a function starting `serve` on it with a given resync."""
    api = WatchedApi()
    stop = threading.Event()
    threads: list[threading.Thread] = []

    def start(resync: float) -> None:
        kwargs = {"poll": 0.02, "errors": (RuntimeError,), "name": "t", "resync": resync}
        thread = threading.Thread(
            target=serve, args=(api, cache_provisioner(["gpu-1"])), kwargs={**kwargs, "stop": stop}
        )
        thread.start()
        threads.append(thread)
        until(lambda: len(api.watches) == 3, "the first pass and its three watches")

    yield api, start
    stop.set()
    for feed in api.feeds.values():
        feed.put(None)
    for thread in threads:
        thread.join(5)
        assert not thread.is_alive(), "serve did not stop"


def test_a_change_makes_a_pass_and_an_idle_cluster_is_not_listed(
    served: tuple[WatchedApi, Callable[[float], None]],
) -> None:
    api, start = served
    start(60)
    assert api.lists == 3  # one pass: storage classes, volumes, claims
    assert sorted(api.watches) == sorted((path, "1") for path in WATCHED)
    time.sleep(0.5)  # 25 poll intervals: the old loop listed 75 times here
    assert api.lists == 3
    for n in range(5):
        api.add_claim(f"u-{n}")
        made = n + 1
        until(lambda: len(api.created) == made, f"the volume of claim {n}")  # noqa: B023
    assert [pv["metadata"]["name"] for pv in api.created] == [f"pvc-u-{n}" for n in range(5)]
    assert 3 * 2 <= api.lists <= 3 * 6  # a pass per change at most, some coalesced
    assert api.watching(CLAIMS) == ["1"]  # the watch went on: no new one


def test_without_changes_a_pass_comes_every_resync(
    served: tuple[WatchedApi, Callable[[float], None]],
) -> None:
    api, start = served
    start(0.2)
    until(lambda: api.lists >= 3 * 4, "three passes more, one per resync")


@pytest.mark.parametrize(
    "failure",
    [
        RuntimeError("connection reset"),
        {"type": "ERROR", "object": {"kind": "Status", "code": 410, "reason": "Expired"}},
    ],
    ids=["the watch fails", "its version expired"],
)
def test_a_broken_watch_makes_a_pass_and_resumes_from_its_lists(
    served: tuple[WatchedApi, Callable[[float], None]], failure: Json | Exception
) -> None:
    api, start = served
    start(60)
    with api.lock:
        api.version = 7  # what the next lists say
    api.feeds[CLAIMS].put(failure)
    until(lambda: api.watching(CLAIMS) == ["1", "7"], "a watch from the new lists' version", 8)
    assert api.lists >= 6
    api.add_claim("u-after")  # and the resumed watch works
    until(lambda: len(api.created) == 1, "the volume of a claim made after the break")
