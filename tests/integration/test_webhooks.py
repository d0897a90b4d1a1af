"""Webhooks through the running local cloud, with real HTTP receivers on 127.0.0.1.

Everything is driven from outside: subscriptions over the HTTP API with the demo key, leads posted to the API
(their `lead.scored` events travel SNS -> NotifyQueue -> the notify function), boto3 for the queues and topics,
and the redrive command run as an operator would. Each test's leads are in a market of its own and its endpoints
filter on that market, so tests never see each other's (or other suites') events. The notify function runs in
this process, so a test shortens its retry schedule and timeout through the environment (read per batch), the
way template.yaml would configure them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks import Webhook

from infra.local_cloud.cloud import write_state_file
from tests.integration.conftest import ROOT, receive_until
from tests.integration.test_backbone import LEAD, api

pytestmark = pytest.mark.integration


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: str
    status: int


@dataclass
class Receiver:
    """A webhook receiver: per path, a list of behaviours consumed in order (the last one repeats):
    an HTTP status, or "hang:<seconds>" (no answer for that long, then 200)."""

    port: int = 0
    script: dict[str, list[int | str]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def next_behaviour(self, path: str) -> int | str:
        with self.lock:
            steps = self.script.get(path) or [200]
            return steps.pop(0) if len(steps) > 1 else steps[0]

    def received(self, path: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def wait_for(self, path: str, condition: Callable[[list[Request]], bool], timeout: float = 20.0) -> list[Request]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            requests = self.received(path)
            if condition(requests):
                return requests
            time.sleep(0.1)
        raise AssertionError(f"{path}: condition not met within {timeout}s; got {self.received(path)}")


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
            behaviour = state.next_behaviour(self.path)
            status = 200
            if isinstance(behaviour, str) and behaviour.startswith("hang:"):
                time.sleep(float(behaviour.split(":", 1)[1]))
            elif isinstance(behaviour, int):
                status = behaviour
            with state.lock:
                state.requests.append(Request(self.path, {k.lower(): v for k, v in self.headers.items()}, body, status))
            try:
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b"thanks")
            except OSError:
                pass  # the caller gave up (timeout)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def fast_retries(process_env: Callable[[str, str], None]) -> None:
    process_env("WEBHOOK_RETRY_SCHEDULE", "1s,1s")  # 3 attempts, ~2 s apart at most
    process_env("WEBHOOK_RETRY_JITTER", "0")


@pytest.fixture
def market() -> str:
    return f"it-wh-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def endpoints(running_info: dict[str, Any]) -> Iterator[list[str]]:
    """Endpoint ids created by a test, deleted after it."""
    created: list[str] = []
    yield created
    for endpoint_id in created:
        api(running_info, "DELETE", f"/v1/webhooks/{endpoint_id}")


def subscribe(info: dict[str, Any], created: list[str], url: str, market: str, **extra: Any) -> dict[str, Any]:
    body = {"url": url, "event_types": ["lead.scored"], "filter": {"markets": [market], **extra}}
    status, headers, endpoint = api(info, "POST", "/v1/webhooks", body)
    assert status == 201, endpoint
    assert headers["Location"] == f"/v1/webhooks/{endpoint['id']}"
    created.append(endpoint["id"])
    return endpoint


def post_lead(info: dict[str, Any], market: str) -> dict[str, Any]:
    lead = {**LEAD, "id": f"it-wh-{uuid.uuid4().hex[:10]}", "property": {**LEAD["property"], "market": market}}
    status, _, score = api(info, "POST", "/v1/leads", lead)
    assert status == 201, score
    return {"lead": lead, "score": score}


def verify(secret: str, request: Request) -> dict[str, Any]:
    """With the public standardwebhooks package, not our code."""
    payload: dict[str, Any] = Webhook(secret).verify(request.body, request.headers)
    return payload


def deliveries(info: dict[str, Any], endpoint_id: str) -> list[dict[str, Any]]:
    status, _, body = api(info, "GET", f"/v1/webhooks/{endpoint_id}/deliveries")
    assert status == 200, body
    data: list[dict[str, Any]] = body["data"]
    return data


# ------------------------------------------------------------------------------------------------ subscriptions API


def test_subscriptions_api(running_info: dict[str, Any], receiver: Receiver, endpoints: list[str]) -> None:
    status, _, body = api(
        running_info, "POST", "/v1/webhooks",
        {"url": "ftp://x", "event_types": ["lead.nope"], "filter": {"score_min": 101}},
    )  # fmt: skip
    assert status == 422
    fields = {item["field"] for item in body["error"]["details"]}
    assert {"url", "event_types.0", "filter.score_min"} <= fields
    for url in ("http://10.0.0.1/hook", "http://169.254.169.254/latest/meta-data", "http://[fd00:ec2::254]/"):
        status, _, body = api(running_info, "POST", "/v1/webhooks", {"url": url, "event_types": ["lead.scored"]})
        assert status == 422, url
        assert body["error"]["details"][0]["field"] == "url"

    created = subscribe(running_info, endpoints, receiver.url("/api"), "it-wh-api", score_min=10)
    assert created["secret"].startswith("whsec_")
    assert created["status"] == "active"
    status, _, listed = api(running_info, "GET", "/v1/webhooks")
    assert status == 200
    mine = [e for e in listed["data"] if e["id"] == created["id"]]
    assert mine
    assert "secret" not in mine[0]
    assert mine[0]["filter"] == {"score_min": 10.0, "markets": ["it-wh-api"]}
    other = running_info["other_tenant_api_key"]
    assert api(running_info, "GET", f"/v1/webhooks/{created['id']}", key=other)[0] == 404
    assert all(e["id"] != created["id"] for e in api(running_info, "GET", "/v1/webhooks", key=other)[2]["data"])

    status, _, rotated = api(running_info, "POST", f"/v1/webhooks/{created['id']}/rotate-secret")
    assert status == 200
    assert rotated["secret"] != created["secret"]
    status, _, result = api(running_info, "POST", f"/v1/webhooks/{created['id']}/test")
    assert status == 200, result
    assert result["delivered"] is True
    assert result["attempt"]["status_code"] == 200
    (request,) = receiver.received("/api")
    assert len(request.headers["webhook-signature"].split(" ")) == 2  # both secrets during the grace period
    assert verify(created["secret"], request)["type"] == "webhook.test"
    assert verify(rotated["secret"], request)["type"] == "webhook.test"
    assert deliveries(running_info, created["id"])[0]["event_type"] == "webhook.test"

    assert api(running_info, "DELETE", f"/v1/webhooks/{created['id']}")[0] == 204
    assert api(running_info, "GET", f"/v1/webhooks/{created['id']}")[0] == 404
    endpoints.remove(created["id"])


# ------------------------------------------------------------------------------------------------ delivery


@pytest.mark.usefixtures("fast_retries")
def test_fails_twice_then_one_accepted_signed_delivery(
    running_info: dict[str, Any], receiver: Receiver, endpoints: list[str], market: str
) -> None:
    receiver.script["/flaky"] = [500, 503, 200]
    endpoint = subscribe(running_info, endpoints, receiver.url("/flaky"), market)
    posted = post_lead(running_info, market)
    requests = receiver.wait_for("/flaky", lambda rs: any(r.status == 200 for r in rs))
    time.sleep(1.5)  # nothing else may follow an accepted delivery
    requests = receiver.received("/flaky")
    assert [r.status for r in requests] == [500, 503, 200]
    assert len({r.headers["webhook-id"] for r in requests}) == 1  # the event id, stable across retries
    assert len({r.body for r in requests}) == 1
    payload = verify(endpoint["secret"], requests[-1])
    assert payload["type"] == "lead.scored"
    assert payload["data"]["lead_id"] == posted["lead"]["id"]
    assert payload["data"]["score"] == posted["score"]["score"]
    history = deliveries(running_info, endpoint["id"])
    assert [(d["outcome"], d["status_code"]) for d in history] == [
        ("delivered", 200), ("retrying", 503), ("retrying", 500)
    ]  # fmt: skip
    assert all(d["latency_ms"] >= 0 for d in history)


@pytest.mark.usefixtures("fast_retries")
def test_always_failing_ends_in_the_dlq_with_an_alert_and_redrive_delivers_once(
    running_info: dict[str, Any],
    running_aws: Callable[[str], Any],
    receiver: Receiver,
    endpoints: list[str],
    market: str,
    tmp_path: Path,
) -> None:
    sqs, sns = running_aws("sqs"), running_aws("sns")
    alerts_url = sqs.create_queue(QueueName=f"it-alerts-{market}")["QueueUrl"]
    alerts_arn = sqs.get_queue_attributes(QueueUrl=alerts_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=running_info["alerts_topic_arn"], Protocol="sqs", Endpoint=alerts_arn,
                  Attributes={"RawMessageDelivery": "true"})  # fmt: skip
    try:
        receiver.script["/down"] = [500]
        endpoint = subscribe(running_info, endpoints, receiver.url("/down"), market)
        post_lead(running_info, market)
        alert, _ = receive_until(
            sqs,
            alerts_url,
            lambda m: json.loads(m["Body"])["details"].get("endpoint_id") == endpoint["id"],
            timeout=25,
        )
        body = json.loads(alert["Body"])
        assert body["type"] == "webhook.dead_lettered"
        assert body["tenant_id"] == running_info["tenant_id"]
        assert body["details"]["attempts"] == 3
        assert running_info["queues"]["NotifyDeadLetterQueue"] in body["details"]["redrive"]
        assert [r.status for r in receiver.received("/down")] == [500, 500, 500]
        assert [d["outcome"] for d in deliveries(running_info, endpoint["id"])] == [
            "dead_lettered", "retrying", "retrying"
        ]  # fmt: skip
        dlq_url = running_info["queues"]["NotifyDeadLetterQueue"]
        depth = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages"])
        assert int(depth["Attributes"]["ApproximateNumberOfMessages"]) >= 1

        receiver.script["/down"] = [200]  # the receiver recovers; an operator redrives (what `make redrive` runs)
        state_file = write_state_file(tmp_path / "local.json", running_info)
        environment = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}  # all from the state file
        done = subprocess.run(
            [sys.executable, "-m", "infra.local_cloud", "redrive", "--state-file", str(state_file)],
            env=environment, cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        assert "moved 1 " in done.stdout, done.stdout + done.stderr
        requests = receiver.wait_for("/down", lambda rs: rs[-1].status == 200)
        time.sleep(1.5)
        assert [r.status for r in receiver.received("/down")] == [500, 500, 500, 200]
        verify(endpoint["secret"], requests[-1])
        assert deliveries(running_info, endpoint["id"])[0]["outcome"] == "delivered"
    finally:
        sqs.delete_queue(QueueUrl=alerts_url)


@pytest.mark.usefixtures("fast_retries")
def test_a_hanging_receiver_is_timed_out_and_retried(
    running_info: dict[str, Any],
    receiver: Receiver,
    endpoints: list[str],
    market: str,
    process_env: Callable[[str, str], None],
) -> None:
    process_env("WEBHOOK_TIMEOUT", "1s")
    receiver.script["/hang"] = ["hang:3", 200]
    endpoint = subscribe(running_info, endpoints, receiver.url("/hang"), market)
    post_lead(running_info, market)
    receiver.wait_for("/hang", lambda rs: any(r.status == 200 and r.headers.get("webhook-id") for r in rs[1:]))
    history = deliveries(running_info, endpoint["id"])
    assert [d["outcome"] for d in history] == ["delivered", "retrying"]
    assert history[1]["error"] == "timed out after 1s"
    assert history[1]["status_code"] is None
    assert 900 <= history[1]["latency_ms"] < 2500


def test_duplicate_sqs_delivery_sends_one_webhook(
    running_info: dict[str, Any],
    running_aws: Callable[[str], Any],
    receiver: Receiver,
    endpoints: list[str],
    market: str,
) -> None:
    endpoint = subscribe(running_info, endpoints, receiver.url("/once"), market)
    event = {
        "id": f"evt_it_{uuid.uuid4().hex}",
        "type": "lead.scored",
        "tenant_id": running_info["tenant_id"],
        "occurred_at": "2026-11-20T10:00:00Z",
        "data": {"lead_id": "dup-1", "market": market, "score": 77, "grade": "A"},
    }
    sqs, sns = running_aws("sqs"), running_aws("sns")
    for _ in range(2):  # SNS delivering twice, and SQS handing the same message out twice
        sns.publish(TopicArn=running_info["events_topic_arn"], Message=json.dumps(event))
        sqs.send_message(QueueUrl=running_info["queues"]["NotifyQueue"], MessageBody=json.dumps(event))
    receiver.wait_for("/once", lambda rs: len(rs) >= 1)
    time.sleep(3)  # every copy has been polled by now
    requests = receiver.received("/once")
    assert len(requests) == 1
    assert requests[0].headers["webhook-id"] == event["id"]
    assert verify(endpoint["secret"], requests[0])["data"]["lead_id"] == "dup-1"


def test_score_min_filter_is_honoured(
    running_info: dict[str, Any], receiver: Receiver, endpoints: list[str], market: str
) -> None:
    status, _, preview = api(running_info, "POST", "/v1/leads/score", {**LEAD, "property": {**LEAD["property"], "market": market}})  # fmt: skip
    assert status == 200, preview
    score = preview["score"]
    assert 0 < score < 100
    low = subscribe(running_info, endpoints, receiver.url("/low"), market, score_min=score)
    high = subscribe(running_info, endpoints, receiver.url("/high"), market, score_min=score + 1)
    posted = post_lead(running_info, market)
    assert posted["score"]["score"] == score
    (request,) = receiver.wait_for("/low", lambda rs: len(rs) == 1)
    assert verify(low["secret"], request)["data"]["score"] == score
    time.sleep(1.5)
    assert receiver.received("/high") == []
    assert deliveries(running_info, high["id"]) == []


# ------------------------------------------------------------------------------------------------ SNS subscribers


def test_aws_native_subscriber_filters_domain_events_on_message_attributes(
    running_info: dict[str, Any], running_aws: Callable[[str], Any], market: str
) -> None:
    """An SQS queue subscribed to the domain-events topic with a filter policy gets only the events it asked for."""
    sqs, sns = running_aws("sqs"), running_aws("sns")
    url = sqs.create_queue(QueueName=f"it-filtered-{market}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = {"event_type": ["lead.scored"], "market": [market], "tenant_id": [running_info["tenant_id"]]}
    sns.subscribe(
        TopicArn=running_info["events_topic_arn"], Protocol="sqs", Endpoint=arn,
        Attributes={"RawMessageDelivery": "true", "FilterPolicy": json.dumps(policy)},
    )  # fmt: skip
    try:
        post_lead(running_info, f"{market}-elsewhere")
        wanted = post_lead(running_info, market)
        message, seen = receive_until(
            sqs, url, lambda m: json.loads(m["Body"])["data"]["lead_id"] == wanted["lead"]["id"], timeout=10
        )
        assert len(seen) == 1  # the lead in the other market was filtered out by SNS
        event = json.loads(message["Body"])
        assert event["type"] == "lead.scored"
        assert event["data"]["market"] == market
    finally:
        sqs.delete_queue(QueueUrl=url)
