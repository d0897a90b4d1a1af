"""What the local cloud's functions ask of AWS, counted the way AWS bills it (bench/cost.py prices it).

    meter = Meter(inspector)           # inspector: a DynamoDB client on the same endpoint, never metered
    with meter.installed():            # every botocore client created from now on is metered
        cloud = LocalCloud(...).start()
        meter.attach(cloud.runtime)    # times every handler, and attributes calls to the function running
        ...
    meter.tally[("ApiFunction", "dynamodb", "write_units")]

Every client botocore creates while installed gets three hooks: `before-parameter-build` keeps the call's
parameters, `before-send` the exact body on the wire (the bulk path joins its BatchWriteItem bodies itself) and,
for single-item DynamoDB writes, the item before the write; `after-call` turns the call into billed quantities.
DynamoDB units come from item sizes (bench/dynamo_units.py), because moto's ConsumedCapacity is a constant: the
inspector reads the items before and after each write and, for reads whose projection or filter hides what was
read, the items the read evaluated. That inspection time is taken off the function's measured duration.

A call belongs to the function whose handler runs in its thread; in a thread the handler started (market
queries, bulk writes, webhook deliveries) to the one function running, when exactly one is (the cost model runs
its phases so); in a poller thread outside the handler to the event-source mapping (`esm:<function>`), whose
receives and deletes AWS bills as SQS requests (a stream's reads by Lambda are not billed); in the main thread to `scope()`'s label, else to nobody (the
harness seeding and checking).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import re
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import botocore.session

from bench import dynamo_units as units
from bench.prices import PAYLOAD_CHUNK_BYTES

POLLER_THREAD_PREFIX = "local-cloud-poller-"  # infra/local_cloud/pollers.py names its threads so
STREAM_THREAD_PREFIX = "local-cloud-stream-"  # and infra/local_cloud/streams.py its (Lambda reads streams free)
S3_PUT_CLASS = {
    "PutObject", "CopyObject", "CreateMultipartUpload", "UploadPart", "UploadPartCopy", "CompleteMultipartUpload",
    "ListObjects", "ListObjectsV2", "ListObjectVersions", "ListParts", "ListMultipartUploads", "PostObject",
}  # fmt: skip
S3_FREE = {"DeleteObject", "DeleteObjects", "AbortMultipartUpload"}
SINGLE_WRITES = {"PutItem": "Item", "UpdateItem": "Key", "DeleteItem": "Key"}
_TOKEN = re.compile(r"[#:][A-Za-z0-9_]+")


def chunks(payload_bytes: int) -> int:
    """SNS and SQS requests billed for a payload: one per started 64 KB."""
    return max(1, math.ceil(payload_bytes / PAYLOAD_CHUNK_BYTES))


def _attributes_size(attributes: Mapping[str, Any] | None) -> int:
    total = 0
    for name, value in (attributes or {}).items():
        data = value.get("StringValue", value.get("stringValue", "")) or value.get("BinaryValue", b"")
        total += len(name) + len(value.get("DataType", value.get("dataType", ""))) + len(data)
    return total


@dataclass
class Invocation:
    function: str
    net_ms: float  # the handler's wall time minus the meter's own inspection


@dataclass
class _Call:
    params: dict[str, Any] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    before: list[dict[str, Any] | None] = field(default_factory=list)


class Meter:
    def __init__(self, inspector: Any) -> None:
        self.inspector = inspector
        self.tally: defaultdict[tuple[str, str, str], float] = defaultdict(float)  # read units come in halves
        self.invocations: list[Invocation] = []
        self.log_bytes: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._local = threading.local()
        self._running: Counter[str] = Counter()
        self._inspection: defaultdict[str, float] = defaultdict(float)  # seconds, per function
        self._shapes: dict[str, units.TableShape] = {}
        self._scope: str | None = None

    # ------------------------------------------------------------------------------------------- set-up
    @contextlib.contextmanager
    def installed(self) -> Iterator[Meter]:
        """Meter every botocore client created inside the block (boto3 builds its sessions on botocore's)."""
        original = botocore.session.Session.create_client
        meter = self

        def create_client(session: Any, *args: Any, **kwargs: Any) -> Any:
            client = original(session, *args, **kwargs)
            if getattr(meter._local, "unmetered", False):
                return client
            events = client.meta.events
            events.register("before-parameter-build", meter._on_params)
            events.register_last("before-send", meter._on_send)
            events.register("after-call", meter._on_after)
            return client

        botocore.session.Session.create_client = create_client
        try:
            yield self
        finally:
            botocore.session.Session.create_client = original

    @contextlib.contextmanager
    def unmetered(self) -> Iterator[None]:
        """Clients created inside the block are not metered (the inspector, the harness's own)."""
        self._local.unmetered = True
        try:
            yield
        finally:
            self._local.unmetered = False

    def attach(self, runtime: Any) -> None:
        """Time every function of a started FunctionRuntime, and count its log bytes."""
        for logical_id, function in runtime.functions.items():
            if function.handler is not None:
                function.handler = self._timed(logical_id, function.handler)
        self._count_logs()

    def reset(self) -> None:
        with self._lock:
            self.tally.clear()
            self.invocations.clear()
            self.log_bytes.clear()

    @contextlib.contextmanager
    def scope(self, label: str) -> Iterator[None]:
        """Bill the main thread's calls inside the block to `label` (a client's own upload, say)."""
        self._scope = label
        try:
            yield
        finally:
            self._scope = None

    def idle(self) -> bool:
        return not +self._running

    def _timed(self, logical_id: str, handler: Any) -> Any:
        def timed(event: Any, context: Any) -> Any:
            previous = getattr(self._local, "function", None)
            self._local.function = logical_id
            with self._lock:
                self._running[logical_id] += 1
                inspected = self._inspection[logical_id]
            started = time.perf_counter()
            try:
                return handler(event, context)
            finally:
                elapsed = time.perf_counter() - started
                with self._lock:
                    self._running[logical_id] -= 1
                    net = max(0.0, elapsed - (self._inspection[logical_id] - inspected))
                    self.invocations.append(Invocation(logical_id, net * 1000))
                self._local.function = previous

        return timed

    def _count_logs(self) -> None:
        """Function logs go to stdout through Powertools' StreamHandlers: count their bytes per function."""
        meter = self

        class Counting(logging.Filter):
            def filter(self, record: logging.LogRecord) -> bool:
                actor = meter._actor()
                if actor is not None:
                    handler = next((h for h in logging.getLogger(record.name).handlers), None)
                    text = handler.format(record) if handler is not None else record.getMessage()
                    with meter._lock:
                        meter.log_bytes[actor] += len(text.encode()) + 1
                return True

        loggers = [logging.getLogger(name) for name in list(logging.root.manager.loggerDict)]
        for logger in [logging.getLogger(), *loggers]:
            for handler in logger.handlers:
                if isinstance(handler, logging.StreamHandler) and not any(
                    isinstance(f, Counting) for f in handler.filters
                ):
                    handler.addFilter(Counting())

    # ------------------------------------------------------------------------------------------- attribution
    def _actor(self) -> str | None:
        function = getattr(self._local, "function", None)
        if function is not None:
            return str(function)
        thread = threading.current_thread()
        for prefix in (POLLER_THREAD_PREFIX, STREAM_THREAD_PREFIX):
            if thread.name.startswith(prefix):
                return "esm:" + thread.name.removeprefix(prefix)
        if thread is threading.main_thread():
            return self._scope
        with self._lock:
            running = [name for name, count in self._running.items() if count > 0]
        return running[0] if len(running) == 1 else "unattributed"

    def _add(self, actor: str, service: str, metric: str, amount: float) -> None:
        with self._lock:
            self.tally[(actor, service, metric)] += amount

    # ------------------------------------------------------------------------------------------- hooks
    def _call(self) -> _Call:
        call = getattr(self._local, "call", None)
        if call is None:
            call = self._local.call = _Call()
        return call

    def _on_params(self, params: dict[str, Any], **_: Any) -> None:
        self._local.call = _Call(params=dict(params))

    def _on_send(self, request: Any, event_name: str, **_: Any) -> None:
        with self._guard():
            self._before_send(request, event_name)

    def _on_after(self, event_name: str, parsed: dict[str, Any], **_: Any) -> None:
        with self._guard():
            self._after_call(event_name, parsed)

    @contextlib.contextmanager
    def _guard(self) -> Iterator[None]:
        """A meter that fails must not fail the function it watches: the error is counted (tests require none)."""
        try:
            yield
        except Exception as error:
            self._add("meter", "errors", f"{type(error).__name__}: {error}", 1)

    def _before_send(self, request: Any, event_name: str) -> None:
        _, service, operation = event_name.split(".", 2)
        if service != "dynamodb" or self._actor() is None:
            return
        call = self._call()
        call.body = json.loads(request.body or b"{}")
        if operation in SINGLE_WRITES:
            table = call.body["TableName"]
            call.before = [self._get(table, self.shape(table).key_of(self._key(call.body, operation)))]
        elif operation == "TransactWriteItems":
            call.before = [self._get(*self._transact_target(entry)) for entry in call.body["TransactItems"]]

    def _after_call(self, event_name: str, parsed: dict[str, Any]) -> None:
        actor = self._actor()
        if actor is None:
            return
        _, service, operation = event_name.split(".", 2)
        call, self._local.call = self._call(), None
        if service == "api-gateway" and getattr(self._local, "function", None) is None:
            # The local API server's own lookup of a caller's API key in moto: API Gateway's key check, which its
            # per-request price already includes.
            return
        if service == "sqs" and operation == "ReceiveMessage" and not parsed.get("Messages"):
            self._add(actor, "sqs", "empty_receives", 1)  # a poller waiting: a fixed cost, not a lead's
            return
        self._add(actor, service, f"calls:{operation}", 1)
        if service == "dynamodb":
            self._dynamodb(actor, operation, call, parsed)
        elif service == "sqs":
            self._add(actor, "sqs", "requests", self._sqs_requests(operation, call.params, parsed))
        elif service == "sns":
            self._add(actor, "sns", "requests", self._sns_requests(operation, call.params))
        elif service == "s3":
            kind = (
                "put_requests"
                if operation in S3_PUT_CLASS
                else "free_requests"
                if operation in S3_FREE
                else "get_requests"
            )
            self._add(actor, "s3", kind, 1)

    @staticmethod
    def _sqs_requests(operation: str, params: dict[str, Any], parsed: dict[str, Any]) -> int:
        if operation == "SendMessage":
            return chunks(
                len(params.get("MessageBody", "").encode()) + _attributes_size(params.get("MessageAttributes"))
            )
        if operation == "SendMessageBatch":
            return chunks(
                sum(
                    len(e["MessageBody"].encode()) + _attributes_size(e.get("MessageAttributes"))
                    for e in params["Entries"]
                )
            )
        if operation == "ReceiveMessage":
            return chunks(
                sum(
                    len(m.get("Body", "").encode()) + _attributes_size(m.get("MessageAttributes"))
                    for m in parsed["Messages"]
                )
            )
        return 1

    @staticmethod
    def _sns_requests(operation: str, params: dict[str, Any]) -> int:
        if operation == "Publish":
            return chunks(len(params.get("Message", "").encode()) + _attributes_size(params.get("MessageAttributes")))
        if operation == "PublishBatch":
            entries = params["PublishBatchRequestEntries"]
            return chunks(
                sum(len(e["Message"].encode()) + _attributes_size(e.get("MessageAttributes")) for e in entries)
            )
        return 1

    # ------------------------------------------------------------------------------------------- DynamoDB
    def shape(self, table: str) -> units.TableShape:
        if table not in self._shapes:
            described = self.inspector.describe_table(TableName=table)["Table"]
            self._shapes[table] = units.TableShape.from_description(described)
        return self._shapes[table]

    def _inspect(self, function: Any, *args: Any) -> Any:
        # Only the handler's own thread's inspection is taken off its duration: a worker thread's may overlap
        # others' (the notify function's parallel deliveries), so those durations err long, never short.
        actor = getattr(self._local, "function", None)
        started = time.perf_counter()
        try:
            return function(*args)
        finally:
            if actor is not None:
                with self._lock:
                    self._inspection[actor] += time.perf_counter() - started

    def _get(self, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        def read() -> dict[str, Any] | None:
            item: dict[str, Any] | None = self.inspector.get_item(TableName=table, Key=key, ConsistentRead=True).get(
                "Item"
            )
            return item

        return self._inspect(read)

    @staticmethod
    def _key(body: dict[str, Any], operation: str) -> dict[str, Any]:
        return body[SINGLE_WRITES[operation]] if operation != "PutItem" else body["Item"]

    def _transact_target(self, entry: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        (kind, request), *_ = entry.items()
        table = request["TableName"]
        key = request["Item"] if kind == "Put" else request["Key"]
        return table, self.shape(table).key_of(key)

    def _write(self, actor: str, table: str, before: Any, after: Any, *, transactional: bool = False) -> None:
        shape = self.shape(table)
        self._add(actor, "dynamodb", "write_units", units.write_units(
            max(units.item_size(before), units.item_size(after)), transactional=transactional
        ))  # fmt: skip
        self._add(actor, "dynamodb", f"writes:{table}", 1)
        for index, spent in units.index_write_units(shape, before, after).items():
            self._add(actor, "dynamodb", "write_units", spent)
            self._add(actor, "dynamodb", f"index_write_units:{index}", spent)

    def _dynamodb(self, actor: str, operation: str, call: _Call, parsed: dict[str, Any]) -> None:
        body = call.body or {}
        failed = "Error" in parsed
        if operation in SINGLE_WRITES:
            table = body["TableName"]
            before = call.before[0] if call.before else None
            key = self.shape(table).key_of(self._key(body, operation))
            after = before if failed else (body["Item"] if operation == "PutItem" else self._get(table, key))
            self._write(
                actor, table, before, after if after is not None or operation == "DeleteItem" else body.get("Item")
            )
        elif operation == "TransactWriteItems":
            for entry, before in zip(body.get("TransactItems", ()), call.before, strict=False):
                table, key = self._transact_target(entry)
                kind = next(iter(entry))
                after = before if failed or kind == "ConditionCheck" else (
                    entry["Put"]["Item"] if kind == "Put" else self._get(table, key)
                )  # fmt: skip
                self._write(actor, table, before, after, transactional=True)
        elif operation == "BatchWriteItem":
            unprocessed = {
                json.dumps(r, sort_keys=True) for rs in (parsed.get("UnprocessedItems") or {}).values() for r in rs
            }
            for table, requests in body.get("RequestItems", {}).items():
                for request in requests:
                    if json.dumps(request, sort_keys=True) in unprocessed:
                        continue
                    # Bulk upserts are priced as new items (no read-back of 20,000 items per file).
                    put = request.get("PutRequest")
                    self._write(actor, table, None, put["Item"]) if put else self._write(actor, table, {}, None)
        elif operation == "GetItem":
            item = parsed.get("Item")
            if item is not None and "ProjectionExpression" in body:
                item = self._get(body["TableName"], body["Key"])
            self._read(actor, units.read_units(units.item_size(item), consistent=bool(body.get("ConsistentRead"))))
        elif operation == "BatchGetItem":
            for table, request in body.get("RequestItems", {}).items():
                for key in request["Keys"]:
                    item = self._get(table, key) if "ProjectionExpression" in request else None
                    if "ProjectionExpression" not in request:
                        found = [
                            i
                            for i in parsed.get("Responses", {}).get(table, [])
                            if all(i.get(k) == v for k, v in key.items())
                        ]
                        item = found[0] if found else None
                    self._read(
                        actor, units.read_units(units.item_size(item), consistent=bool(request.get("ConsistentRead")))
                    )
        elif operation in ("Query", "Scan"):
            items = parsed.get("Items", [])
            if "ProjectionExpression" in body or "FilterExpression" in body:
                items = self._inspect(self._evaluated, operation, body)
            self._read(actor, units.query_read_units(items, consistent=bool(body.get("ConsistentRead"))))
        elif operation == "TransactGetItems":
            for entry in body.get("TransactItems", ()):
                get = entry["Get"]
                item = self._get(get["TableName"], get["Key"])
                self._read(actor, units.read_units(units.item_size(item), transactional=True))

    def _read(self, actor: str, amount: float) -> None:
        self._add(actor, "dynamodb", "read_units", amount)

    def _evaluated(self, operation: str, body: dict[str, Any]) -> Sequence[dict[str, Any]]:
        """The items a Query or Scan read (what DynamoDB bills), whatever its projection and filter returned."""
        request = {k: v for k, v in body.items() if k not in ("ProjectionExpression", "FilterExpression", "Select")}
        used = set(_TOKEN.findall(" ".join(str(body.get(k, "")) for k in ("KeyConditionExpression",))))
        for name in ("ExpressionAttributeNames", "ExpressionAttributeValues"):
            kept = {k: v for k, v in (request.get(name) or {}).items() if k in used}
            request.pop(name, None)
            if kept:
                request[name] = kept
        result = getattr(self.inspector, "query" if operation == "Query" else "scan")(**request)
        items: Sequence[dict[str, Any]] = result.get("Items", [])
        return items
