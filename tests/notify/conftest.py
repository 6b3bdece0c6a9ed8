"""Real receivers for the delivery tests: an SMTP server (aiosmtpd) and a local HTTP webhook
receiver that can fail its first N requests, or a share of them; both count what arrived."""

from __future__ import annotations

import json
import random
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass
class Mailbox:
    messages: list[tuple[list[str], Message]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        with self.lock:
            self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Controller, Mailbox]]:
    box = Mailbox()
    with socket.socket() as probe:  # a free port (the controller checks its own by connecting)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(box, hostname="127.0.0.1", port=port, ready_timeout=10)
    controller.start()
    try:
        yield controller, box
    finally:
        controller.stop()


@dataclass
class Receiver:
    """Answers 503 to its first `fail_first` requests, then to a `fail_share` of the rest."""

    url: str = ""
    fail_first: int = 0
    fail_share: float = 0.0
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    requests: list[dict[str, object]] = field(default_factory=list)
    answered: list[int] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)  # the Host header of each request
    lock: threading.Lock = field(default_factory=threading.Lock)

    def accepted(self) -> list[dict[str, object]]:
        with self.lock:
            return [r for r, s in zip(self.requests, self.answered, strict=True) if s == 200]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            size = int(self.headers.get("content-length", "0"))
            payload = json.loads(self.rfile.read(size))
            with state.lock:
                n = len(state.requests)
                fail = n < state.fail_first or state.rng.random() < state.fail_share
                state.requests.append(payload)
                state.hosts.append(self.headers.get("host", ""))
                state.answered.append(503 if fail else 200)
            self.send_response(503 if fail else 200)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"no" if fail else b"ok")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
