"""The staging loop in-process against a stand-in portal and real loopback artifact servers:
staged and published trees, reports, one download for concurrent requests, the budget, the
state rebuilt from disk, trees that no longer match the catalog, failures with reasons,
randomized rounds."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import random
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from berth.cache.agent import Agent, AgentConfig
from berth.cache.fetch import Fetcher
from berth.cache.portal import HttpPortal
from berth.domain.catalog import Model

from .conftest import (
    CorruptHandler,
    DropsHandler,
    Files,
    ServerFactory,
    SlowHandler,
    StandInPortal,
    check_cache,
    model_at,
)

MiB = 1 << 20


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False, timeout=30) as c:
        yield c


def make_agent(
    root: Path,
    portal: StandInPortal,
    client: httpx.Client,
    capacity: int = 1 << 30,
    high: float = 0.9,
    low: float = 0.8,
    concurrency: int = 2,
) -> Agent:
    token = root.parent / f"{root.name}.token"
    token.write_text(portal.token + "\n")
    config = AgentConfig(
        node=portal.node,
        root=root,
        capacity=capacity,
        high=int(capacity * high),
        low=int(capacity * low),
        concurrency=concurrency,
        retry_failed=3600,
    )
    agent = Agent(
        config,
        HttpPortal(portal.url, client, token),
        Fetcher(client, backoff=0.0, env={}),
        log=lambda _line: None,
    )
    agent.start()
    return agent


def settle(agent: Agent, rounds: int = 20) -> None:
    """Cycle until no download runs and a cycle starts none."""
    for _ in range(rounds):
        agent.tick()
        with agent.lock:
            running = list(agent.inflight.values())
        if not running:
            agent.send_report()
            return
        for f in running:
            f.result(timeout=60)
    raise AssertionError("the agent did not settle")


def test_models_are_staged_published_and_reported(
    files: Files, serve: ServerFactory, portal: StandInPortal, client: httpx.Client, tmp_path: Path
) -> None:
    rng = random.Random(3)
    server = serve()
    a = model_at("a", files.add_model("a", [MiB, 3000, 0], rng), server)
    b = model_at("b", files.add_model("b", [2 * MiB], rng), server)
    portal.set_plan([a, b], keep=[a])
    agent = make_agent(tmp_path / "root", portal, client)
    settle(agent)
    check_cache(tmp_path / "root", {"a": a, "b": b})
    assert sorted(os.listdir(tmp_path / "root/cache/models")) == ["a", "b"]
    assert os.listdir(tmp_path / "root/staging/models") == []
    last = portal.last()
    assert {m: r["state"] for m, r in last.items()} == {"a": "ready", "b": "ready"}
    assert last["b"]["downloaded_bytes"] == last["b"]["size_bytes"] == 2 * MiB
    assert last["a"]["last_used"] is not None
    report = portal.reports[-1]
    assert report["used_bytes"] == a.size + b.size
    assert report["reserved_bytes"] == 0
    assert report["bandwidth_bytes_per_second"]
    assert portal.refused == 0


def test_a_wrong_token_is_refused_and_nothing_is_staged(
    files: Files, serve: ServerFactory, portal: StandInPortal, client: httpx.Client, tmp_path: Path
) -> None:
    server = serve()
    a = model_at("a", files.add_model("a", [1000], random.Random(1)), server)
    portal.set_plan([a])
    agent = make_agent(tmp_path / "root", portal, client)
    (tmp_path / "root.token").write_text("stolen")
    settle(agent)
    assert portal.refused >= 1
    assert server.requests == []


def test_concurrent_requests_for_one_model_download_it_once(
    files: Files, serve: ServerFactory, portal: StandInPortal, client: httpx.Client, tmp_path: Path
) -> None:
    server = serve(handler=SlowHandler)
    server.gate = threading.Event()  # type: ignore[attr-defined]
    a = model_at("a", files.add_model("a", [MiB, MiB], random.Random(2)), server)
    agent = make_agent(tmp_path / "root", portal, client, concurrency=4)
    futures = []
    barrier = threading.Barrier(8)

    def ask() -> None:
        barrier.wait()
        futures.append(agent.stage(a))

    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    server.gate.set()  # type: ignore[attr-defined]
    for f in futures:
        f.result(timeout=60)
    assert len({id(f) for f in futures}) == 1
    assert server.sent == {"a/f0.bin": MiB, "a/sub/f1.bin": MiB}
    assert len(server.requests) == 2
    check_cache(tmp_path / "root", {"a": a})


def test_two_that_fit_alone_but_not_together_are_not_both_admitted(
    files: Files, serve: ServerFactory, portal: StandInPortal, client: httpx.Client, tmp_path: Path
) -> None:
    server = serve(handler=SlowHandler)
    gate = threading.Event()
    server.gate = gate  # type: ignore[attr-defined]
    rng = random.Random(4)
    a = model_at("a", files.add_model("a", [6 * MiB], rng), server)
    b = model_at("b", files.add_model("b", [6 * MiB], rng), server)
    c = model_at("c", files.add_model("c", [MiB], rng), server)
    portal.set_plan([a, b, c], keep=[a, b, c])
    agent = make_agent(tmp_path / "root", portal, client, capacity=10 * MiB, high=1, low=1)
    agent.tick()
    agent.send_report()
    last = portal.last()
    assert last["a"]["state"] == "downloading"
    assert last["b"]["state"] == "queued"
    assert last["b"]["reason"] == "insufficient-capacity"
    # c would fit next to a, but does not overtake b, which waits for room
    assert (last["c"]["state"], last["c"]["detail"]) == ("queued", "after b")
    assert portal.reports[-1]["reserved_bytes"] == 6 * MiB
    gate.set()
    settle(agent)
    last = portal.last()
    # a is kept for a booking: b can never fit next to it; c then goes
    assert last["a"]["state"] == "ready"
    assert last["b"]["state"] == "failed"
    assert last["b"]["reason"] == "insufficient-capacity"
    assert "kept for bookings" in last["b"]["detail"]
    assert last["c"]["state"] == "ready"
    assert sorted(p for p, _r in server.requests) == ["a/f0.bin", "c/f0.bin"]

    # once a is no longer needed, it is evicted (least recently used) to make room for b
    portal.set_plan([b], keep=[b])
    settle(agent)
    last = portal.last()
    assert last["a"]["state"] == "evicted"
    assert last["b"]["state"] == "ready"
    # evicting a alone made room down to the low watermark: c stays
    assert sorted(os.listdir(tmp_path / "root/cache/models")) == ["b", "c"]


def test_above_the_high_watermark_lru_trees_not_kept_are_evicted_down_to_low(
    files: Files, serve: ServerFactory, portal: StandInPortal, client: httpx.Client, tmp_path: Path
) -> None:
    server = serve()
    rng = random.Random(5)
    models = [model_at(m, files.add_model(m, [MiB], rng), server) for m in "abcd"]
    agent = make_agent(tmp_path / "root", portal, client, capacity=10 * MiB, high=1, low=1)
    clock = [time.time()]
    agent.clock = lambda: clock[0]
    for m in models:  # staged one after the other: a is the least recently used
        portal.set_plan([m], keep=[m])
        settle(agent)
        clock[0] += 100
    assert sorted(os.listdir(tmp_path / "root/cache/models")) == ["a", "b", "c", "d"]
    # the watermarks drop (a restart with new options): high 3 MiB, low 1 MiB
    agent = make_agent(tmp_path / "root", portal, client, capacity=10 * MiB, high=0.3, low=0.1)
    agent.clock = lambda: clock[0]
    portal.set_plan([models[3]], keep=[models[0]])
    settle(agent)
    # a is kept, d is to be staged (protected too); b and c go, though that leaves 2 MiB
    assert sorted(os.listdir(tmp_path / "root/cache/models")) == ["a", "d"]
    last = portal.last()
    assert (last["b"]["state"], last["c"]["state"]) == ("evicted", "evicted")


def test_the_state_is_rebuilt_from_disk_and_stale_trees_are_staged_again(
    files: Files, serve: ServerFactory, portal: StandInPortal, client: httpx.Client, tmp_path: Path
) -> None:
    server = serve()
    rng = random.Random(6)
    a = model_at("a", files.add_model("a", [MiB, 10], rng), server)
    b = model_at("b", files.add_model("b", [MiB], rng), server)
    portal.set_plan([a, b])
    settle(make_agent(tmp_path / "root", portal, client))
    sent = dict(server.sent)

    # a new agent on the same disk reports both ready and downloads nothing
    agent = make_agent(tmp_path / "root", portal, client)
    settle(agent)
    assert {m: r["state"] for m, r in portal.last().items()} == {"a": "ready", "b": "ready"}
    assert server.sent == sent

    # a tree that no longer matches (a file shrank on disk) is taken out and staged again
    (tmp_path / "root/cache/models/b/f0.bin").write_bytes(b"x")
    agent = make_agent(tmp_path / "root", portal, client)
    settle(agent)
    check_cache(tmp_path / "root", {"a": a, "b": b})
    assert server.sent["b/f0.bin"] == 2 * MiB

    # the catalog entry changed (new bytes, new sha256): the old tree is replaced
    files.blobs["a/sub/f1.bin"] = type(files.blobs["a/sub/f1.bin"])(b"0123456789")
    new_a = model_at(
        "a",
        (
            a.files[0],
            a.files[1].__class__("sub/f1.bin", 10, hashlib.sha256(b"0123456789").hexdigest()),
        ),
        server,
    )
    portal.set_plan([new_a, b])
    settle(agent)
    check_cache(tmp_path / "root", {"a": new_a, "b": b})


def test_rehash_catches_a_tree_whose_bytes_changed_but_not_its_sizes(
    files: Files, serve: ServerFactory, portal: StandInPortal, client: httpx.Client, tmp_path: Path
) -> None:
    server = serve()
    a = model_at("a", files.add_model("a", [1000], random.Random(8)), server)
    portal.set_plan([a])
    settle(make_agent(tmp_path / "root", portal, client))
    (tmp_path / "root/cache/models/a/f0.bin").write_bytes(b"y" * 1000)
    settle(make_agent(tmp_path / "root", portal, client))  # sizes only: not noticed
    assert server.sent["a/f0.bin"] == 1000
    agent = make_agent(tmp_path / "root", portal, client)
    agent.config = dataclasses.replace(agent.config, rehash=True)
    settle(agent)
    check_cache(tmp_path / "root", {"a": a})
    assert server.sent["a/f0.bin"] == 2000


def test_a_full_filesystem_queues_the_download_with_a_reason(
    files: Files,
    serve: ServerFactory,
    portal: StandInPortal,
    client: httpx.Client,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = serve()
    a = model_at("a", files.add_model("a", [5000], random.Random(12)), server)
    portal.set_plan([a])
    agent = make_agent(tmp_path / "root", portal, client)
    real = os.statvfs(tmp_path)

    class Full:
        f_bavail, f_frsize, f_blocks = 1, 4096, real.f_blocks

    monkeypatch.setattr(os, "statvfs", lambda _p: Full)
    settle(agent)
    last = portal.last()["a"]
    assert (last["state"], last["reason"]) == ("queued", "insufficient-capacity")
    assert "filesystem has 4096 bytes free" in last["detail"]
    assert server.requests == []
    monkeypatch.undo()
    settle(agent)
    assert portal.last()["a"]["state"] == "ready"


def test_a_model_the_plan_drops_is_forgotten_unless_it_is_on_disk(
    files: Files, serve: ServerFactory, portal: StandInPortal, client: httpx.Client, tmp_path: Path
) -> None:
    good, bad = serve(), serve(handler=CorruptHandler)
    rng = random.Random(13)
    a = model_at("a", files.add_model("a", [100], rng), good)
    b = model_at("b", files.add_model("b", [100], rng), bad)
    portal.set_plan([a, b])
    agent = make_agent(tmp_path / "root", portal, client)
    settle(agent)
    assert {m: r["state"] for m, r in portal.last().items()} == {"a": "ready", "b": "failed"}
    portal.set_plan([])
    settle(agent)
    # a is still on the node (ready, evictable); b's failure is no longer anyone's concern
    assert {m: r["state"] for m, r in portal.last().items()} == {"a": "ready"}


def test_a_model_is_staged_a_lead_time_before_its_start(
    files: Files, serve: ServerFactory, portal: StandInPortal, client: httpx.Client, tmp_path: Path
) -> None:
    server = serve()
    a = model_at("a", files.add_model("a", [MiB], random.Random(14)), server)
    agent = make_agent(tmp_path / "root", portal, client)
    clock = [datetime(2026, 12, 1, 8, 0, tzinfo=UTC).timestamp()]
    agent.clock = lambda: clock[0]
    portal.set_plan([a], start="2026-12-01T15:00:00+00:00")  # 7 h ahead; the lead is 6 h
    settle(agent)
    last = portal.last()["a"]
    assert (last["state"], last["detail"]) == ("queued", "for 2026-12-01 15:00 UTC")
    assert server.requests == []
    clock[0] += 3600  # 6 h ahead: due
    settle(agent)
    assert portal.last()["a"]["state"] == "ready"


def test_failures_are_reported_with_their_reason(
    files: Files, serve: ServerFactory, portal: StandInPortal, client: httpx.Client, tmp_path: Path
) -> None:
    bad = serve(handler=CorruptHandler)
    rng = random.Random(7)
    a = model_at("a", files.add_model("a", [1000], rng), bad)
    gone = model_at("gone", files.add_model("gone", [1000], rng), bad)
    gone = Model(gone.id, gone.format, gone.files, (type(gone.sources[0])("http://127.0.0.1:9/x"),))
    portal.set_plan([a, gone])
    settle(make_agent(tmp_path / "root", portal, client))
    last = portal.last()
    assert last["a"]["state"] == "failed"
    assert last["a"]["reason"] == "integrity-mismatch"
    assert "f0.bin: " in last["a"]["detail"]
    assert last["gone"]["reason"] == "source-unavailable"
    assert not (tmp_path / "root/cache/models/a").exists()


def _expected(kinds: list[str], sizes: list[int], drop_after: int = 300_000) -> str:
    """What the downloader must end with, file by file: a good source serves; the dropper
    gives `drop_after` more bytes per attempt (3 attempts, each resuming); the corrupter
    flips the first byte of a response from offset 0 (so resuming from it is clean)."""
    for size in sizes:
        have, corrupt, done = 0, False, False
        for kind in kinds:
            if kind == "good":
                done = True
            elif kind == "drop":
                have = min(size, have + 3 * drop_after)
                done = have == size
            elif kind == "bad":
                if have == 0 and size > 0:
                    corrupt = True
                else:
                    done = True
            if done:
                break
        if not done:
            return "integrity-mismatch" if corrupt else "source-unavailable"
    return "ready"


@pytest.mark.parametrize("seed", [11, 12, 13, 14])
def test_randomized_rounds_converge_with_every_tree_whole(
    seed: int,
    files: Files,
    serve: ServerFactory,
    portal: StandInPortal,
    client: httpx.Client,
    tmp_path: Path,
) -> None:
    """Several models at once, each with a random mix of good, dropping and corrupting sources;
    a model with one good source ends ready, one with none fails with the right reason."""
    rng = random.Random(seed)
    good, bad = serve(), serve(handler=CorruptHandler)
    dropper = serve(handler=DropsHandler)
    dropper.drops, dropper.drop_after = 1000, 300_000  # type: ignore[attr-defined]
    models = {}
    expect = {}
    for i in range(rng.randint(3, 6)):
        mid = f"m{i}"
        kinds = rng.sample(["good", "bad", "drop"], rng.randint(1, 3))
        servers = [{"good": good, "bad": bad, "drop": dropper}[k] for k in kinds]
        sizes = [rng.randint(0, 2 * MiB) for _ in range(rng.randint(1, 3))]
        models[mid] = model_at(mid, files.add_model(mid, sizes, rng), *servers)
        expect[mid] = _expected(kinds, sizes)
    portal.set_plan(list(models.values()))
    agent = make_agent(tmp_path / "root", portal, client, concurrency=rng.randint(1, 3))
    seen_bad = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            try:
                check_cache(tmp_path / "root", models)
            except FileNotFoundError:
                continue  # a tree renamed away between listing and reading
            except AssertionError:
                seen_bad.set()

    stop = threading.Event()
    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        settle(agent, rounds=50)
    finally:
        stop.set()
        watcher.join()
    assert not seen_bad.is_set()
    last = portal.last()
    for mid, want in expect.items():
        got = last[mid]["state"] if want == "ready" else last[mid]["reason"]
        assert got == want, (mid, last[mid])
    check_cache(tmp_path / "root", models)
