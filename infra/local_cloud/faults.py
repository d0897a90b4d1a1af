"""A fault-injecting proxy in front of the local AWS endpoint: every request is forwarded to moto unless a rule
set at run time says to answer it with a fault, shaped as AWS would send it.

    with FaultProxy(lambda: cloud.endpoint_url) as proxy:       # 127.0.0.1, a free port: proxy.endpoint_url
        rule = proxy.inject(FaultRule("dynamodb", "PutItem", times=2, fault=throttling()))
        ...                                                      # the functions' calls go through the proxy
        assert rule.injected == 2

`behind_proxy()` starts both: a `LocalCloud` whose functions reach AWS through the proxy (their AWS_ENDPOINT_URL
is the proxy's), while the local pollers, the API server and the test's own clients keep talking to moto directly
(in AWS, Lambda's event-source mapping and API Gateway are not subject to our faults either).

A call is classified from what any AWS request carries (`Call`): the service from the SigV4 credential scope (the
Authorization header, or X-Amz-Credential in a presigned URL), the operation from X-Amz-Target (JSON protocols:
DynamoDB, SQS), the `Action` form field (query protocols: SNS) or the method and path (S3), and the resources it
names (tables, bucket, topic, queue URL). A `FaultRule` matches on those, for its next `times` matching calls
(after letting `skip` through), for `seconds` from when it is added, or until removed, and counts what it matched
and injected so a test can assert that the fault happened.

Faults (`Fault`): `observe()` (none: forwarded, only counted), an AWS error in the request's protocol (JSON `__type`, S3 XML `Error`, query XML
`ErrorResponse`), a connection reset before any response, or a reset in the middle of the real response's body.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
import socket
import struct
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from .server import DEFAULT_HOST, Started, aws_environment, is_loopback_host, require_loopback_endpoint

# Headers that describe one hop, not the request: never forwarded as they came.
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
}
CREDENTIAL_SCOPE = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/,\s]+/([^/,\s]+)/aws4_request")
FORWARD_TIMEOUT_SECONDS = 30.0


# ---------------------------------------------------------------------------------------------------- calls


@dataclass(frozen=True)
class Call:
    """One AWS request as a rule sees it."""

    service: str  # the SigV4 signing name: dynamodb, s3, sns, sqs, ...
    operation: str  # PutItem, GetObject, Publish, SendMessage, ...
    resources: tuple[str, ...]  # table names, bucket, topic ARN, queue URL: what the call names
    method: str
    path: str
    headers: Mapping[str, str]  # lower-case names

    @property
    def protocol(self) -> str:
        """How the service answers errors: `json` (X-Amz-Target), `rest-xml` (S3) or `query`."""
        if "x-amz-target" in self.headers:
            return "json"
        return "rest-xml" if self.service == "s3" else "query"


def classify(method: str, target: str, headers: Mapping[str, str], body: bytes) -> Call:
    """The `Call` a request makes: `target` is the request line's path and query, `headers` lower-case."""
    parts = urlsplit(target)
    query = parse_qs(parts.query, keep_blank_values=True)
    service = _service(headers, query)
    amz_target = headers.get("x-amz-target", "")
    form: dict[str, list[str]] = {}
    if "x-www-form-urlencoded" in headers.get("content-type", ""):
        form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    if amz_target:
        operation = amz_target.rpartition(".")[2]
        resources = _json_resources(body)
    elif service == "s3":
        operation, resources = _s3_operation(method, parts.path, query, headers)
    else:
        fields = {**query, **form}
        operation = (fields.get("Action") or [""])[0]
        resources = tuple(
            value for name in ("TopicArn", "TargetArn", "QueueUrl", "TableName") for value in fields.get(name, [])
        )
    return Call(service, operation, resources, method.upper(), unquote(parts.path), dict(headers))


def _service(headers: Mapping[str, str], query: Mapping[str, list[str]]) -> str:
    scope = headers.get("authorization", "") or "Credential=" + (query.get("X-Amz-Credential") or [""])[0]
    match = CREDENTIAL_SCOPE.search(scope)
    return match.group(1) if match else ""


def _json_resources(body: bytes) -> tuple[str, ...]:
    """Tables (one, or each of a batch's or a transaction's) and queue URLs a JSON request names."""
    try:
        payload = json.loads(body or b"{}")
    except ValueError:
        return ()
    if not isinstance(payload, dict):
        return ()
    names: list[str] = []
    for key in ("TableName", "QueueUrl", "TopicArn"):
        if isinstance(payload.get(key), str):
            names.append(payload[key])
    names.extend(str(name) for name in payload.get("RequestItems") or {})  # BatchGetItem, BatchWriteItem
    for item in payload.get("TransactItems") or []:  # TransactWriteItems, TransactGetItems
        for action in item.values() if isinstance(item, dict) else ():
            if isinstance(action, dict) and isinstance(action.get("TableName"), str):
                names.append(action["TableName"])
    return tuple(dict.fromkeys(names))


def _s3_operation(
    method: str, path: str, query: Mapping[str, list[str]], headers: Mapping[str, str]
) -> tuple[str, tuple[str, ...]]:
    """S3's REST operation from method and path (path-style or virtual-hosted), with the bucket it names."""
    host = headers.get("host", "").split(":", 1)[0]
    segments = [unquote(s) for s in path.lstrip("/").split("/", 1)] if path.strip("/") else []
    if not is_loopback_host(host) and host.count(".") and not host.replace(".", "").isdigit():
        bucket, key = host.split(".", 1)[0], path.lstrip("/")  # virtual-hosted: bucket.s3...
    else:
        bucket = segments[0] if segments else ""
        key = segments[1] if len(segments) > 1 else ""
    method = method.upper()
    if not bucket:
        return "ListBuckets", ()
    if key:
        if method == "PUT":
            name = "UploadPart" if "partNumber" in query else "CopyObject" if "x-amz-copy-source" in headers else ""
            operation = name or "PutObject"
        elif method == "POST":
            operation = "CreateMultipartUpload" if "uploads" in query else "CompleteMultipartUpload"
        else:
            operation = {"GET": "GetObject", "HEAD": "HeadObject", "DELETE": "DeleteObject"}.get(method, method)
    else:
        operation = {
            "GET": "ListObjectsV2" if query.get("list-type") == ["2"] else "ListObjects",
            "HEAD": "HeadBucket",
            "PUT": "CreateBucket",
            "DELETE": "DeleteBucket",
            "POST": "DeleteObjects",
        }.get(method, method)
    return operation, (bucket,)


# ---------------------------------------------------------------------------------------------------- faults


@dataclass(frozen=True)
class Fault:
    """What the proxy does instead of (or to) the real answer. `kind`: `observe` (nothing), `error` (status + code in the call's
    protocol), `reset` (the connection closed with a TCP reset, no response) or `reset_mid_body` (the real
    response's status and headers, `after_bytes` of its body, then a reset)."""

    kind: str = "error"
    status: int = 500
    code: str = "InternalError"
    message: str = "injected by the local cloud's fault proxy"
    after_bytes: int = 0
    headers: Mapping[str, str] = field(default_factory=dict)


def aws_error(status: int, code: str, message: str = Fault.message) -> Fault:
    return Fault("error", status, code, message)


def throttling(code: str = "ProvisionedThroughputExceededException") -> Fault:
    """DynamoDB's answer to a table (or a request rate) over its capacity: 400 with a throttling code botocore's
    standard retry mode retries (also ThrottlingException, RequestLimitExceeded)."""
    return aws_error(400, code, "The level of configured provisioned throughput for the table was exceeded")


def slow_down() -> Fault:
    """S3's 503 SlowDown."""
    return aws_error(503, "SlowDown", "Please reduce your request rate.")


def unavailable(code: str = "InternalError") -> Fault:
    """A service that is down: 503 (SNS says InternalError or ServiceUnavailable)."""
    return aws_error(503, code, "Service is unavailable")


def observe() -> Fault:
    """No fault: the call is forwarded as usual, and counted on its rule (to assert that a call was made)."""
    return Fault("observe")


def reset() -> Fault:
    """The connection reset before any response (as an endpoint that refuses or drops it)."""
    return Fault("reset")


def reset_mid_body(after_bytes: int = 1) -> Fault:
    """The real response's headers and its first `after_bytes` bytes of body, then a reset."""
    return Fault("reset_mid_body", after_bytes=after_bytes)


def error_response(call: Call, fault: Fault) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of `fault` in `call`'s protocol, as the service would send it."""
    request_id = str(uuid.uuid4())
    headers = {"x-amzn-RequestId": request_id, "x-amz-request-id": request_id, **fault.headers}
    if call.protocol == "json":
        prefix = {"dynamodb": "com.amazonaws.dynamodb.v20120810", "sqs": "com.amazonaws.sqs"}.get(call.service, "")
        headers["Content-Type"] = "application/x-amz-json-1.0"
        if call.service == "sqs":  # SQS's JSON protocol names the query code here (botocore reads it)
            headers["x-amzn-query-error"] = f"{fault.code};Receiver"
        body = json.dumps({"__type": f"{prefix}#{fault.code}" if prefix else fault.code, "message": fault.message})
        return fault.status, headers, body.encode()
    headers["Content-Type"] = "text/xml"
    if call.protocol == "rest-xml":
        body = (
            f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{fault.code}</Code><Message>{fault.message}"
            f"</Message><RequestId>{request_id}</RequestId></Error>"
        )
    else:
        kind = "Sender" if fault.status < 500 else "Receiver"
        body = (
            f"<ErrorResponse><Error><Type>{kind}</Type><Code>{fault.code}</Code><Message>{fault.message}</Message>"
            f"</Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
    return fault.status, headers, body.encode()


# ---------------------------------------------------------------------------------------------------- rules


class FaultRule:
    """Which calls get `fault`: `service` (signing name), `operation` (None: any), `resource` (None: any; else a
    table or bucket name, topic ARN, queue URL or name that the call names, or a part of one) and `when` (a
    predicate on the `Call`, e.g. on a Range header). Active for the next `times` matching calls after `skip`
    (None: unbounded), for `seconds` after it is added (None: until removed). `matched` and `injected` count."""

    def __init__(
        self,
        service: str,
        operation: str | None = None,
        *,
        fault: Fault | None = None,
        resource: str | None = None,
        when: Callable[[Call], bool] | None = None,
        times: int | None = None,
        skip: int = 0,
        seconds: float | None = None,
    ) -> None:
        self.service = service
        self.operation = operation
        self.fault = fault or aws_error(500, "InternalError")
        self.resource = resource
        self.when = when
        self.times = times
        self.skip = skip
        self.seconds = seconds
        self.matched = 0  # calls that matched while the rule was active (the skipped ones included)
        self.injected = 0
        self.calls: list[Call] = []  # the calls given the fault
        self._until: float | None = None

    def start_clock(self) -> None:
        self._until = None if self.seconds is None else time.monotonic() + self.seconds

    @property
    def active(self) -> bool:
        if self._until is not None and time.monotonic() >= self._until:
            return False
        return self.times is None or self.injected < self.times

    def matches(self, call: Call) -> bool:
        if call.service != self.service or (self.operation is not None and call.operation != self.operation):
            return False
        if self.resource is not None and not any(self.resource in name for name in call.resources):
            return False
        return self.when is None or self.when(call)

    def __repr__(self) -> str:
        scope = f"{self.service}:{self.operation or '*'}" + (f" on {self.resource}" if self.resource else "")
        return (
            f"FaultRule({scope}, {self.fault.kind} {self.fault.code}, matched={self.matched}, injected={self.injected})"
        )


class FaultRules:
    """The proxy's rules, in the order added; the first active rule that matches decides (thread-safe)."""

    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._lock = threading.Lock()
        self.forwarded = 0

    def add(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            rule.start_clock()
            self._rules.append(rule)
        return rule

    def remove(self, rule: FaultRule) -> None:
        with self._lock, contextlib.suppress(ValueError):
            self._rules.remove(rule)

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def decide(self, call: Call) -> Fault | None:
        """The fault for `call` (counting it on the rule), or None to forward it."""
        with self._lock:
            for rule in self._rules:
                if not rule.active or not rule.matches(call):
                    continue
                rule.matched += 1
                if rule.matched <= rule.skip:
                    break
                rule.injected += 1
                rule.calls.append(call)
                return rule.fault
            self.forwarded += 1
        return None


# ---------------------------------------------------------------------------------------------------- proxy


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects
    server: _ProxyServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        body = self._read_body()
        headers = {name.lower(): value for name, value in self.headers.items()}
        call = classify(self.command, self.path, headers, body)
        fault = self.server.rules.decide(call)
        if fault is not None and fault.kind == "observe":
            fault = None
        if fault is not None and fault.kind == "reset":
            self._reset()
            return
        if fault is not None and fault.kind == "error":
            self._respond(*error_response(call, fault))
            return
        try:
            status, response_headers, content = self._forward(body)
        except OSError as error:  # moto gone: tell the client as a gateway would
            self._respond(502, {"Content-Type": "text/plain"}, f"fault proxy: {error}".encode())
            return
        if fault is not None and fault.kind == "reset_mid_body":
            self._respond(status, response_headers, content[: fault.after_bytes], length=len(content))
            self._reset()
            return
        self._respond(status, response_headers, content)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = _handle  # noqa: N815 - http.server's names

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _forward(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
        target = urlsplit(self.server.target())
        connection = http.client.HTTPConnection(
            target.hostname or DEFAULT_HOST, target.port or 80, timeout=FORWARD_TIMEOUT_SECONDS
        )
        try:
            headers = {name: value for name, value in self.headers.items() if name.lower() not in HOP_BY_HOP}
            headers["Content-Length"] = str(len(body))
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            content = response.read()
            kept = {name: value for name, value in response.getheaders() if name.lower() not in HOP_BY_HOP}
            return response.status, kept, content
        finally:
            connection.close()

    def _respond(self, status: int, headers: Mapping[str, str], content: bytes, length: int | None = None) -> None:
        self.send_response_only(status)
        for name, value in headers.items():
            if name.lower() not in {"content-length", "date", "server"}:
                self.send_header(name, value)
        if self.command == "HEAD":  # the length of the body a GET would give, as the upstream said
            length = int(next((v for k, v in headers.items() if k.lower() == "content-length"), len(content)))
        self.send_header("Content-Length", str(len(content) if length is None else length))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(content)
        self.wfile.flush()

    def _reset(self) -> None:
        """Close with RST (SO_LINGER 0): the client sees a reset connection, not a clean end of response."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.wfile.flush()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        for stream in (self.rfile, self.wfile):
            with contextlib.suppress(OSError, ValueError):
                stream.close()
        with contextlib.suppress(OSError):
            self.connection.close()  # the last reference: the socket really closes, and resets


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], target: Callable[[], str], rules: FaultRules) -> None:
        super().__init__(address, _Handler)
        self.target = target
        self.rules = rules

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hung up mid-request (or a socket we reset) is no error of the proxy's


class FaultProxy(Started):
    """The proxy on 127.0.0.1 (a free port unless `port` is given) forwarding to `target`: a loopback endpoint
    URL, or a function returning one (for a cloud whose endpoint is known only once it has started)."""

    def __init__(self, target: str | Callable[[], str], *, port: int = 0, host: str = DEFAULT_HOST) -> None:
        if not is_loopback_host(host):
            raise ValueError(f"the fault proxy listens on loopback only, not {host!r}")
        self._target = target
        self.host, self.port = host, port
        self.rules = FaultRules()
        self._server: _ProxyServer | None = None
        self._thread: threading.Thread | None = None

    def target(self) -> str:
        return require_loopback_endpoint(self._target() if callable(self._target) else self._target)

    def start(self) -> FaultProxy:
        if self._server is None:
            self._server = _ProxyServer((self.host, self.port), self.target, self.rules)
            self.port = int(self._server.server_address[1])
            self._thread = threading.Thread(target=self._server.serve_forever, name="fault-proxy", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        server, thread, self._server, self._thread = self._server, self._thread, None, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(5)

    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the fault proxy is not running (call start() first)")
        return f"http://{self.host}:{self.port}"

    def environment(self) -> dict[str, str]:
        """What a function needs to reach AWS through the proxy (every service: AWS_ENDPOINT_URL)."""
        return aws_environment(self.endpoint_url)

    def inject(self, rule: FaultRule) -> FaultRule:
        """Add `rule` (its `seconds` count from now); returns it, to read its counts or remove it."""
        return self.rules.add(rule)

    @contextlib.contextmanager
    def injecting(self, rule: FaultRule) -> Iterator[FaultRule]:
        """`rule` in force for the `with` block only."""
        self.inject(rule)
        try:
            yield rule
        finally:
            self.rules.remove(rule)

    def clear(self) -> None:
        self.rules.clear()


@contextlib.contextmanager
def compressed_backoff(factor: float = 0.01) -> Iterator[None]:
    """botocore's retry delays (standard mode: up to 1 s, 2 s, 4 s, 8 s between throttled attempts) times `factor`
    in this process, for the `with` block: the same attempts in less time, as the pollers compress retry delays."""
    from botocore.retries.standard import ExponentialBackoff

    original = ExponentialBackoff.delay_amount

    def delay_amount(self: ExponentialBackoff, context: Any) -> float:
        return float(original(self, context)) * factor

    ExponentialBackoff.delay_amount = delay_amount
    try:
        yield
    finally:
        ExponentialBackoff.delay_amount = original


@contextlib.contextmanager
def behind_proxy(template: Any, **cloud_options: Any) -> Iterator[tuple[Any, FaultProxy]]:
    """A `LocalCloud` (any free ports) whose functions reach AWS through a `FaultProxy`, and the proxy. The
    cloud's `environment` option is kept, with AWS_ENDPOINT_URL (and only it) pointing at the proxy."""
    from .cloud import LocalCloud

    holder: dict[str, Any] = {}
    with FaultProxy(lambda: str(holder["cloud"].endpoint_url)) as proxy:
        environment = {**cloud_options.pop("environment", {}), "AWS_ENDPOINT_URL": proxy.endpoint_url}
        cloud = LocalCloud(template, **{"port": 0, **cloud_options, "environment": environment})
        holder["cloud"] = cloud
        with cloud:
            yield cloud, proxy
