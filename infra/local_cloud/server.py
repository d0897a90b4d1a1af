"""moto in server mode, in this process, bound to the loopback interface: the local cloud's AWS endpoint.

    with LocalAwsServer(port=0) as server:          # port 0: any free port (tests); the default is 4566
        sqs = server.client("sqs")                   # dummy credentials, us-east-1, endpoint_url=server.endpoint_url
        ...

Everything here refuses to talk to anything but 127.0.0.0/8, ::1 or `localhost`: a misconfigured endpoint must fail
loudly rather than send dummy credentials (or worse, real ones picked up from the environment) to real AWS.
`aws_environment()` gives the environment variables with which the same boto3 code (our handlers) reaches the local
endpoint without any endpoint logic of its own (boto3 reads `AWS_ENDPOINT_URL`).
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import logging
import socket
import threading
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4566
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account; ARNs it returns carry it
DUMMY_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "aws_session_token": "testing"}
START_TIMEOUT_SECONDS = 10.0


class LocalCloudError(Exception):
    """The local cloud cannot start or was asked to do something it must not (e.g. talk to a non-loopback host)."""


class NotLoopbackError(LocalCloudError):
    """An endpoint or bind address that is not on this machine's loopback interface."""


def is_loopback_host(host: str) -> bool:
    """True for `localhost`, 127.0.0.0/8 and ::1 (brackets allowed); False for anything else, names included."""
    host = host.strip().strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_loopback_endpoint(endpoint_url: str) -> str:
    """`endpoint_url` unchanged if it is an http(s) URL on a loopback host; `NotLoopbackError` otherwise."""
    parts = urlsplit(endpoint_url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise NotLoopbackError(f"not an http(s) endpoint URL: {endpoint_url!r}")
    if not is_loopback_host(parts.hostname):
        raise NotLoopbackError(
            f"refusing endpoint {endpoint_url!r}: the local cloud only talks to 127.0.0.1/localhost, never to real AWS"
        )
    return endpoint_url


def boto3_session(region: str = REGION) -> Any:
    """A boto3 session with the dummy `testing` credentials (never the caller's profile or environment keys)."""
    import boto3

    return boto3.session.Session(region_name=region, **DUMMY_CREDENTIALS)


def client(service: str, endpoint_url: str, region: str = REGION, **kwargs: Any) -> Any:
    """A boto3 client for `service` at the loopback `endpoint_url` with dummy credentials."""
    require_loopback_endpoint(endpoint_url)
    return boto3_session(region).client(service, endpoint_url=endpoint_url, **kwargs)


def resource(service: str, endpoint_url: str, region: str = REGION, **kwargs: Any) -> Any:
    """A boto3 resource (e.g. `dynamodb`) at the loopback `endpoint_url` with dummy credentials."""
    require_loopback_endpoint(endpoint_url)
    return boto3_session(region).resource(service, endpoint_url=endpoint_url, **kwargs)


def aws_environment(endpoint_url: str, region: str = REGION) -> dict[str, str]:
    """Environment variables that point unmodified boto3 code (our handlers) at the local endpoint."""
    require_loopback_endpoint(endpoint_url)
    return {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_ACCESS_KEY_ID": DUMMY_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIALS["aws_secret_access_key"],
        "AWS_SESSION_TOKEN": DUMMY_CREDENTIALS["aws_session_token"],
    }


def _check_port_free(host: str, port: int) -> None:
    """Fail fast with a readable message: moto's server thread dies silently when it cannot bind."""
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as werkzeug binds: TIME_WAIT is no conflict
        try:
            probe.bind((host, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise LocalCloudError(
                    f"port {port} on {host} is already in use (another local cloud? choose one with --port)"
                ) from error
            raise LocalCloudError(f"cannot bind {host}:{port}: {error}") from error


class LocalAwsServer:
    """moto's `ThreadedMotoServer` on a loopback address, with boto3 factories for its endpoint.

    `port=0` binds any free port; `endpoint_url` then tells which. moto keeps its state per process: two servers
    started in one process share the same tables, queues and buckets.
    """

    def __init__(
        self, port: int = DEFAULT_PORT, host: str = DEFAULT_HOST, region: str = REGION, *, log_requests: bool = False
    ) -> None:
        if not is_loopback_host(host):
            raise NotLoopbackError(f"refusing to bind {host!r}: the local cloud listens on loopback only")
        if not 0 <= port <= 65535:
            raise LocalCloudError(f"not a TCP port: {port}")
        self.host = "127.0.0.1" if host.lower() == "localhost" else host.strip("[]")
        self.requested_port = port
        self.region = region
        self.log_requests = log_requests
        self._server: Any = None
        self._port: int | None = None

    # ------------------------------------------------------------------------------------------------ lifecycle

    def start(self) -> LocalAwsServer:
        if self._server is not None:
            return self
        from moto.server import ThreadedMotoServer

        _check_port_free(self.host, self.requested_port)
        if not self.log_requests:  # werkzeug logs every request at INFO: one line per AWS call
            logging.getLogger("werkzeug").setLevel(logging.WARNING)
        server = ThreadedMotoServer(ip_address=self.host, port=self.requested_port, verbose=False)
        # ThreadedMotoServer.start() waits without a timeout for a thread that may have died binding; bound the wait.
        starter = threading.Thread(target=server.start, name="local-cloud-moto-start", daemon=True)
        starter.start()
        starter.join(START_TIMEOUT_SECONDS)
        if starter.is_alive():
            raise LocalCloudError(
                f"moto did not start on {self.host}:{self.requested_port} in {START_TIMEOUT_SECONDS}s"
            )
        _, port = server.get_host_and_port()
        self._server, self._port = server, int(port)
        return self

    def stop(self) -> None:
        server, self._server, self._port = self._server, None, None
        if server is not None:
            with contextlib.suppress(Exception):  # stopping must not mask the error that made us stop
                server.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    def __enter__(self) -> LocalAwsServer:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------------------------------------ endpoint

    @property
    def port(self) -> int:
        if self._port is None:
            raise LocalCloudError("the local AWS server is not running (call start() first)")
        return self._port

    @property
    def endpoint_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def session(self) -> Any:
        return boto3_session(self.region)

    def client(self, service: str, **kwargs: Any) -> Any:
        return client(service, self.endpoint_url, self.region, **kwargs)

    def resource(self, service: str, **kwargs: Any) -> Any:
        return resource(service, self.endpoint_url, self.region, **kwargs)

    def environment(self) -> dict[str, str]:
        """`aws_environment` for this server: what a handler process needs to reach it."""
        return aws_environment(self.endpoint_url, self.region)
