"""moto in server mode, in a process of its own, bound to the loopback interface: the local cloud's AWS endpoint.

    with LocalAwsServer(port=0) as server:          # port 0: any free port (tests); the default is 4566
        sqs = server.client("sqs")                   # dummy credentials, us-east-1, endpoint_url=server.endpoint_url
        ...

Everything here refuses to talk to anything but 127.0.0.0/8, ::1 or `localhost`: a misconfigured endpoint must fail
loudly rather than send dummy credentials (or worse, real ones picked up from the environment) to real AWS.
`aws_environment()` gives the environment variables with which the same boto3 code (our handlers) reaches the local
endpoint without any endpoint logic of its own (boto3 reads `AWS_ENDPOINT_URL`).
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import ipaddress
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

from infra.local_cloud import moto_accelerator

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4566
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account; ARNs it returns carry it
DUMMY_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "aws_session_token": "testing"}
START_TIMEOUT_SECONDS = 30.0


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


class Started:
    """Started by `with`, and stopped when the block ends, however it ends."""

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()


class LocalAwsServer(Started):
    """moto's server (`python -m moto.server`) in a child process on a loopback address, with boto3 factories for
    its endpoint.

    A process of its own gives every server its own state (moto keeps its backends per process: two servers in
    one process would share tables, queues and buckets) and lets moto use the second core while our handlers run.
    `port=0` picks a free port; `endpoint_url` then tells which. `environment` adds variables for moto itself
    (e.g. `S3_UPLOAD_PART_MIN_SIZE`). Stopping terminates the process; it also dies with ours (stdin is a pipe it
    never reads, so no orphan outlives a crashed parent for long, and `atexit` stops it on a normal exit).
    """

    def __init__(
        self,
        port: int = DEFAULT_PORT,
        host: str = DEFAULT_HOST,
        region: str = REGION,
        *,
        log_requests: bool = False,
        environment: Mapping[str, str] | None = None,
    ) -> None:
        if not is_loopback_host(host):
            raise NotLoopbackError(f"refusing to bind {host!r}: the local cloud listens on loopback only")
        if not 0 <= port <= 65535:
            raise LocalCloudError(f"not a TCP port: {port}")
        self.host = "127.0.0.1" if host.lower() == "localhost" else host.strip("[]")
        self.requested_port = port
        self.region = region
        self.log_requests = log_requests
        self.extra_environment = dict(environment or {})
        self._process: subprocess.Popen[bytes] | None = None
        self._port: int | None = None

    # ------------------------------------------------------------------------------------------------ lifecycle
    def start(self) -> LocalAwsServer:
        if self._process is not None:
            return self
        if moto_accelerator.enabled():
            # The child's stderr is not shown: say here, not as "moto exited with status 1", that moto is not the
            # release the accelerator patches.
            moto_accelerator.check_moto_version()
        _check_port_free(self.host, self.requested_port)
        for attempt in range(3):  # a free port found by probing can be taken before moto binds it: try another
            port = self.requested_port or _free_port(self.host)
            process = self._spawn(port)
            try:
                _wait_until_serving(process, self.host, port)
            except LocalCloudError:
                _terminate(process)
                if self.requested_port or attempt == 2:
                    raise
                continue
            self._process, self._port = process, port
            atexit.register(self.stop)
            return self
        raise AssertionError("unreachable")  # pragma: no cover

    def _spawn(self, port: int) -> subprocess.Popen[bytes]:
        environment = {**os.environ, **self.extra_environment}
        for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):  # moto answers for AWS itself: it must not follow these
            environment.pop(name, None)
        # moto with faster DynamoDB queries (same answers); AIQLEADS_MOTO_ACCELERATOR=0 runs plain moto
        command = [
            sys.executable,
            str(Path(__file__).with_name("moto_accelerator.py")),
            "-H",
            self.host,
            "-p",
            str(port),
        ]
        return subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=None if self.log_requests else subprocess.DEVNULL,
            stderr=None if self.log_requests else subprocess.DEVNULL,
            env=environment,
        )

    def stop(self) -> None:
        process, self._process, self._port = self._process, None, None
        if process is not None:
            _terminate(process)
            atexit.unregister(self.stop)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

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


def _free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _wait_until_serving(process: subprocess.Popen[bytes], host: str, port: int) -> None:
    """Until moto answers HTTP on `host:port` (it imports for a second or two first), at most START_TIMEOUT_SECONDS."""
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    address = f"[{host}]" if ":" in host else host
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LocalCloudError(f"moto exited with status {process.returncode} while starting on {host}:{port}")
        try:
            with urllib.request.urlopen(f"http://{address}:{port}/moto-api/", timeout=1):
                return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError:
            time.sleep(0.05)
    raise LocalCloudError(f"moto did not start on {host}:{port} in {START_TIMEOUT_SECONDS}s")


def _terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
    if process.stdin is not None:
        with contextlib.suppress(OSError):
            process.stdin.close()
