"""The flows the cost model meters, driven through a local cloud from outside (HTTP, S3), one phase at a time.

Phases run with only the pollers they need started, and each ends when its queues are empty and no handler is
running (polled with a deadline), so every AWS call has exactly one function to belong to (bench/metering.py).
"""

from __future__ import annotations

import http.client
import http.server
import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from aiqleads.models import Buyer, Tier
from aiqleads.storage.buyers import BuyerRepository
from aiqleads.storage.markets import MarketSignalStore
from aiqleads.validation.flat import lead_from_flat
from aiqleads_offline.generate import generate_table, market_snapshots
from bench.metering import Meter
from infra.local_cloud import LocalCloud
from infra.local_cloud.demo import key_service

ACTIONS = ("view", "click", "inquiry", "message", "schedule")
KEYS_PER_TENANT = 4  # the enterprise plan's rate is per key (16.67/s): four keys keep throttling out of the way
WAIT_SECONDS = 120


class Api:
    """POST/GET against the local gateway with a tenant's keys in turn; a 429 is waited out as told, unbilled."""

    def __init__(self, api_url: str, keys: Sequence[str]) -> None:
        parts = urlsplit(api_url)
        self.prefix = parts.path
        self.connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
        self.keys = list(keys)
        self.turn = 0
        self.requests = 0  # answered requests (what API Gateway bills)

    def call(self, method: str, path: str, body: Any = None) -> Any:
        while True:
            self.turn += 1
            headers = {"x-api-key": self.keys[self.turn % len(self.keys)], "content-type": "application/json"}
            payload = None if body is None else json.dumps(body)
            self.connection.request(method, self.prefix + path, body=payload, headers=headers)
            response = self.connection.getresponse()
            data = response.read()
            if response.status == 429:
                time.sleep(float(response.getheader("Retry-After") or 1))
                continue
            if response.status >= 300:
                raise RuntimeError(f"{method} {path}: {response.status} {data[:300]!r}")
            self.requests += 1
            return json.loads(data) if data else None


class _Sink(http.server.BaseHTTPRequestHandler):
    received = 0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        type(self).received += 1
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def webhook_receiver() -> Iterator[str]:
    """A tenant's webhook endpoint on 127.0.0.1 that accepts everything (the local cloud allows loopback)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    thread = threading.Thread(target=server.serve_forever, name="cost-webhook-sink", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks"
    finally:
        server.shutdown()
        server.server_close()


def wait_for(condition: Callable[[], bool], what: str, timeout: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"cost model: {what} did not happen within {timeout:.0f} s")
        time.sleep(0.05)


class Flows:
    def __init__(self, cloud: LocalCloud, meter: Meter, tenant: str) -> None:
        self.cloud, self.meter, self.tenant = cloud, meter, tenant
        self.sqs = cloud.client("sqs")
        self.s3 = cloud.client("s3")
        self.dynamodb = cloud.client("dynamodb")
        assert cloud.pollers is not None
        self.pollers = {poller.function_id: poller for poller in cloud.pollers.pollers}
        for poller in self.pollers.values():
            poller.stop()
        refs = cloud.resources.ref
        self.queues = {
            "EventsFunction": refs("EventsQueue"),
            "NotifyFunction": refs("NotifyQueue"),
            "BulkScoreFunction": refs("BulkQueue"),
        }
        self.api = Api(cloud.info()["api_url"], self._keys())
        self.now = datetime.now(UTC).replace(microsecond=0)
        markets = MarketSignalStore(refs("MarketSignalsTable"), self.dynamodb)
        for snapshot in market_snapshots(self.now.year, self.now.month):
            markets.put(self.tenant, snapshot)

    def _keys(self) -> list[str]:
        # Issued as `aiqleads keys issue` does, so the gateway's usage plans hold them.
        service = key_service(self.cloud)
        service.ensure_tenant(self.tenant, "cost model")
        return [
            service.issue(self.tenant, Tier.ENTERPRISE, name=f"cost model {number}").api_key
            for number in range(KEYS_PER_TENANT)
        ]

    def subscribe(self, url: str) -> None:
        types = ["lead.scored", "lead.score_changed", "bulk.completed"]
        self.api.call("POST", "/v1/webhooks", {"url": url, "event_types": types})

    # ------------------------------------------------------------------------------------------- phases
    def _queue_empty(self, function: str) -> bool:
        names = [
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ]
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.queues[function], AttributeNames=names)["Attributes"]
        return all(int(attributes[name]) == 0 for name in names)

    def drain(self, function: str, extra: Callable[[], bool] = lambda: True) -> None:
        """Run `function`'s poller until its queue is empty, nothing runs and `extra` holds."""
        poller = self.pollers[function]
        poller.start()
        try:
            wait_for(lambda: self._queue_empty(function) and self.meter.idle() and extra(), f"{function} draining")
        finally:
            poller.stop()
        wait_for(self.meter.idle, f"{function} finishing")

    def api_leads(self, count: int, events_per_lead: int, seed: int) -> list[str]:
        """POST /v1/leads for `count` generated leads, then `events_per_lead` POST /v1/events each (one request
        per interaction, as they happen), then the events and notify functions over what that queued."""
        ids: list[str] = []
        for index, row in enumerate(generate_table(count, seed, invalid_rate=0.0).to_pylist()):
            row["id"] = f"{row['id']}-{seed}-{index}"
            row["created_at"] = self.now.isoformat().replace("+00:00", "Z")
            lead = lead_from_flat(row).model_dump(mode="json", exclude_none=True)
            self.api.call("POST", "/v1/leads", lead)
            ids.append(lead["id"])
        for number in range(events_per_lead):
            for index, lead_id in enumerate(ids):
                action = ACTIONS[(index + number) % len(ACTIONS)]
                event = {"lead_id": lead_id, "actor": "lead", "action": action, "timestamp": self._stamp()}
                self.api.call("POST", "/v1/events", {"events": [event]})
        self.drain("EventsFunction")
        self.drain("NotifyFunction")
        return ids

    def _stamp(self) -> str:
        return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def bulk(self, source: Path) -> None:
        """A client's upload of `source` under uploads/<tenant>/, the bulk job it starts, and its notification."""
        bucket = self.cloud.resources.ref("UploadsBucket")
        with self.meter.scope("client"):
            # One PutObject in this thread (upload_file would hand it to a transfer thread nobody is billed for).
            self.s3.put_object(Bucket=bucket, Key=f"uploads/{self.tenant}/{source.name}", Body=source.read_bytes())
        prefix = f"results/{self.tenant}/{source.stem}.scored"

        def done() -> bool:
            return bool(self.s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("KeyCount"))

        self.drain("BulkScoreFunction", done)
        self.drain("NotifyFunction")

    def recommendations(self, buyers: Sequence[Buyer], samples: int, clear: Callable[[], None] | None) -> None:
        for _ in range(samples):
            for buyer in buyers:
                if clear is not None:
                    clear()
                self.api.call("GET", f"/v1/recommendations?buyer_id={buyer.id}&limit=20")
        wait_for(self.meter.idle, "recommendations finishing")

    def seed_buyers(self, buyers: Sequence[Buyer]) -> None:
        BuyerRepository(self.cloud.resources.ref("BuyersTable"), self.dynamodb).put_many(self.tenant, buyers)

    def items(self, logical_id: str) -> list[dict[str, Any]]:
        table = self.cloud.resources.ref(logical_id)
        pages = self.dynamodb.get_paginator("scan").paginate(TableName=table)
        return [item for page in pages for item in page["Items"]]

    def objects(self, prefix: str) -> list[dict[str, Any]]:
        bucket = self.cloud.resources.ref("UploadsBucket")
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return [item for page in pages for item in page.get("Contents", [])]
