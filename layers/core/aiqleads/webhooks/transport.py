"""One delivery attempt over HTTP(S), with the standard library only.

The connection goes to an address the URL policy vetted (the host name is still sent as Host and used for TLS
SNI and certificate checks), redirects are never followed (a 3xx is a failed attempt), the whole attempt is
bounded by a deadline and at most `cap` bytes of the response body are read.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from aiqleads.webhooks.urls import Target

USER_AGENT = "AIQLeads-Webhooks/1.0"


@dataclass(frozen=True, slots=True)
class Response:
    status: int | None  # None: no HTTP response (connection refused, timed out, TLS error, ...)
    latency_ms: float
    error: str | None = None
    body_excerpt: str = ""
    retry_after: str | None = None

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class Transport(Protocol):
    def post(
        self, target: Target, headers: Mapping[str, str], body: bytes, *, timeout: float, cap: int
    ) -> Response: ...


def _connection(target: Target, address: str, timeout: float) -> http.client.HTTPConnection:
    connection: http.client.HTTPConnection
    if target.scheme == "https":
        connection = http.client.HTTPSConnection(
            target.host, target.port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        connection = http.client.HTTPConnection(target.host, target.port, timeout=timeout)
    port = target.port

    def pinned(_address: Any, connect_timeout: Any = None, source_address: Any = None) -> socket.socket:
        return socket.create_connection((address, port), connect_timeout, source_address)

    connection._create_connection = pinned  # type: ignore[attr-defined]  # connect to the vetted address only
    return connection


def _read_capped(
    connection: http.client.HTTPConnection, response: http.client.HTTPResponse, cap: int, deadline: float
) -> bytes:
    """Up to `cap` bytes of the body before the deadline; the status already decided the outcome."""
    excerpt = b""
    try:
        while len(excerpt) < cap and time.monotonic() < deadline:
            if connection.sock is not None:
                connection.sock.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = response.read1(cap - len(excerpt))
            if not chunk:
                break
            excerpt += chunk
    except (OSError, http.client.HTTPException):
        pass
    return excerpt


class HttpTransport:
    def post(self, target: Target, headers: Mapping[str, str], body: bytes, *, timeout: float, cap: int) -> Response:
        started = time.monotonic()
        deadline = started + timeout
        last_error = "no address to connect to"
        for address in target.addresses:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            connection = _connection(target, address, remaining)
            try:
                connection.request(
                    "POST",
                    target.path,
                    body=body,
                    headers={"content-type": "application/json", "user-agent": USER_AGENT, **headers},
                )
                response = connection.getresponse()
                excerpt = _read_capped(connection, response, cap, deadline)
                return Response(
                    status=response.status,
                    latency_ms=(time.monotonic() - started) * 1000,
                    body_excerpt=excerpt[:256].decode("utf-8", "replace"),
                    retry_after=response.getheader("retry-after"),
                )
            except TimeoutError:
                return Response(None, (time.monotonic() - started) * 1000, f"timed out after {timeout:g}s")
            except ConnectionRefusedError:
                last_error = "connection refused"
            except ssl.SSLError as error:
                return Response(None, (time.monotonic() - started) * 1000, f"TLS error: {error.reason or error}")
            except (OSError, http.client.HTTPException) as error:
                last_error = f"{type(error).__name__}: {error}"
            finally:
                connection.close()
        return Response(None, (time.monotonic() - started) * 1000, last_error)
