"""One attempt over real HTTP on 127.0.0.1: no redirects followed, capped response body, bounded time, the
connection pinned to the vetted address."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from aiqleads.webhooks.transport import HttpTransport
from aiqleads.webhooks.urls import Target

hits: list[str] = []


class Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", 0))
        self.rfile.read(length)
        hits.append(f"{self.path} host={self.headers['host']}")
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/ok")
            self.end_headers()
        elif self.path == "/hang":
            time.sleep(3)
        elif self.path == "/big":
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"x" * 1_000_000)
        else:
            self.send_response(204)
            self.send_header("Retry-After", "7")
            self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


class Receiver(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # The transport hangs up on /big once it has read its cap: the receiver's broken pipe is the point of
        # that test, not a failure to print to the test log.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    server = Receiver(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def target(port: int, path: str, host: str = "receiver.test") -> Target:
    return Target(scheme="http", host=host, port=port, path=path, addresses=("127.0.0.1",))


def test_success_is_sent_to_the_pinned_address_with_the_host_name(port: int) -> None:
    response = HttpTransport().post(target(port, "/ok"), {"webhook-id": "x"}, b"{}", timeout=2, cap=64)
    assert response.delivered
    assert response.status == 204
    assert response.retry_after == "7"
    assert hits[-1] == f"/ok host=receiver.test:{port}"  # connected to 127.0.0.1, asked for receiver.test


def test_redirects_are_not_followed(port: int) -> None:
    before = len(hits)
    response = HttpTransport().post(target(port, "/redirect"), {}, b"{}", timeout=2, cap=64)
    assert response.status == 302
    assert not response.delivered
    assert len(hits) == before + 1


def test_a_hanging_receiver_times_out(port: int) -> None:
    started = time.monotonic()
    response = HttpTransport().post(target(port, "/hang"), {}, b"{}", timeout=0.5, cap=64)
    assert time.monotonic() - started < 1.5
    assert response.status is None
    assert "timed out" in (response.error or "")


def test_only_a_capped_part_of_the_body_is_read(port: int) -> None:
    response = HttpTransport().post(target(port, "/big"), {}, b"{}", timeout=2, cap=1024)
    assert response.delivered
    assert len(response.body_excerpt) <= 256


def test_connection_refused_is_a_failed_attempt() -> None:
    response = HttpTransport().post(target(1, "/"), {}, b"{}", timeout=1, cap=64)
    assert response.status is None
    assert response.error == "connection refused"
