"""HTTP on the wire: the threaded server and the handler that reads a request (the body up to API Gateway's
limit) and writes the gateway's reply."""

from __future__ import annotations

import contextlib
import socket
import sys
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from .request import Reply

if TYPE_CHECKING:
    from .server import LocalGateway

MAX_BODY_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit
DRAIN_LIMIT_BYTES = 64 * 1024 * 1024  # an oversized body is read and dropped up to this, then the connection closed


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # API Gateway accepts every connection. socketserver's listen backlog is 5: fifty clients connecting at once
    # overflow it, the kernel answers the rest with SYN cookies, and those connections are reset when the accept
    # queue is still full as their ACK arrives, the request unanswered (the kernel caps this at net.core.somaxconn).
    request_queue_size = 1024


class IPv6Server(Server):
    address_family = socket.AF_INET6


class RequestHandler(BaseHTTPRequestHandler):
    gateway: LocalGateway  # set on a subclass per gateway (http.server instantiates the class per connection)
    protocol_version = "HTTP/1.1"
    # The status line and headers go out in one write and the body in another: with Nagle's algorithm on, the
    # body waits for the client's delayed ACK of the headers, ~40 ms on every keep-alive response.
    disable_nagle_algorithm = True
    server_version = "aiqleads-local-api"

    def _read_chunked(self) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            line = self.rfile.readline(1024)
            length = int(line.split(b";", 1)[0].strip() or b"0", 16)
            if length == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            size += length
            if size > MAX_BODY_BYTES:
                self.close_connection = True
                return None
            chunks.append(self.rfile.read(length))
            self.rfile.readline(8)

    def _read_body(self) -> bytes | None:
        """The request body; None if it is over the limit (the connection is then closed)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            # Read (and drop) what the client is sending, up to a bound, so that it reads the 413 instead of
            # failing on a connection reset.
            remaining = min(length, DRAIN_LIMIT_BYTES)
            while remaining > 0:
                chunk = self.rfile.read(min(remaining, 1 << 20))
                if not chunk:
                    break
                remaining -= len(chunk)
            return None
        return self.rfile.read(length) if length > 0 else b""

    def _serve(self) -> None:
        try:
            body = self._read_body()
        except ValueError:
            body = b""
        headers = [(name, value) for name, value in self.headers.items()]
        try:
            reply = self.gateway.handle(self.command, self.path, headers, body, self.client_address[0])
        except Exception:
            # A fault of the gateway itself still gets an answer (API Gateway's 5xx), never a dropped connection.
            traceback.print_exc(file=sys.stderr)
            reply = Reply(500, [("Content-Type", "application/json")], b'{"message": "Internal server error"}')
        self.send_response(reply.status)
        for name, value in reply.headers:
            if name.lower() not in {"content-length", "connection", "transfer-encoding"}:
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(reply.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve  # noqa: N815

    def __getattr__(self, name: str) -> Any:
        # Every other method (TRACE, QUERY, ...) reaches the route table too and gets the gateway's "no such route"
        # response, as on API Gateway, instead of http.server's 501.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:
        if self.gateway.log_requests:
            super().log_message(format, *args)
