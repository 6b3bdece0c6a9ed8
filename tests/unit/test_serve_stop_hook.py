"""`berth up` stops its demo staging processes when the first stop signal arrives, before the
server stops answering (`berth.cli._server`): their last report must not meet a closed port."""

from __future__ import annotations

import signal

import uvicorn

from berth.cli import _server


async def _app(scope: object, receive: object, send: object) -> None:  # never called
    raise AssertionError("no request is made")


def test_the_first_stop_signal_runs_on_exit_before_the_server_is_told_to_stop() -> None:
    seen: list[bool] = []
    server = _server(uvicorn.Config(_app), lambda: seen.append(server.should_exit))
    server.handle_exit(signal.SIGINT, None)
    assert seen == [False]  # ran while the server was still serving
    assert server.should_exit
    assert not server.force_exit
    server.handle_exit(signal.SIGINT, None)  # a second Ctrl-C forces the exit, as before
    assert seen == [False]
    assert server.force_exit


def test_without_on_exit_the_server_stops_as_uvicorn_does() -> None:
    server = _server(uvicorn.Config(_app), None)
    server.handle_exit(signal.SIGTERM, None)
    assert server.should_exit
    assert not server.force_exit
