"""Queue pollers against the real moto server on 127.0.0.1: Lambda's SQS event-source mapping, locally."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from infra.local_cloud import LocalAwsServer
from infra.local_cloud.pollers import QueuePoller, QueuePollers, failed_message_ids

Invoke = Callable[[str, Any], Any]


@pytest.fixture(scope="module")
def server() -> Iterator[LocalAwsServer]:
    with LocalAwsServer(port=0) as running:
        yield running


@pytest.fixture
def sqs(server: LocalAwsServer) -> Any:
    return server.client("sqs")


def make_queue(sqs: Any, *, max_receive_count: int | None = None) -> tuple[str, str, str | None]:
    """A fresh queue (url, arn) and, with `max_receive_count`, its dead-letter queue's url."""
    name = f"q-{uuid.uuid4().hex[:12]}"
    attributes: dict[str, str] = {"VisibilityTimeout": "300"}  # long, as in the template: retries must not wait it
    dlq_url = None
    if max_receive_count is not None:
        dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        attributes["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count})
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn, dlq_url


def count(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"not true within {timeout}s")


class Recorder:
    """An invoker that records every event and answers with `respond(event)`."""

    def __init__(self, respond: Callable[[dict[str, Any]], Any] = lambda event: None) -> None:
        self.respond = respond
        self.events: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    def __call__(self, function_id: str, event: Any) -> Any:
        with self.lock:
            self.events.append(event)
        return self.respond(event)

    def bodies(self) -> list[str]:
        with self.lock:
            return [record["body"] for event in self.events for record in event["Records"]]


def poller(sqs: Any, url: str, arn: str, invoke: Invoke, **kwargs: Any) -> QueuePoller:
    return QueuePoller("Fn", url, arn, invoke, sqs, **kwargs)


def test_batch_size_is_honoured_and_successes_are_deleted(sqs: Any) -> None:
    url, arn, _ = make_queue(sqs)
    for index in range(7):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{index}")
    recorder = Recorder()
    running = poller(sqs, url, arn, recorder, batch_size=3).start()
    try:
        wait_for(lambda: len(recorder.bodies()) >= 7)
        wait_for(lambda: count(sqs, url) == 0)
    finally:
        running.stop()
    assert sorted(recorder.bodies()) == [f"m{index}" for index in range(7)]
    assert all(1 <= len(event["Records"]) <= 3 for event in recorder.events)


def test_the_event_is_lambdas_sqs_event(sqs: Any) -> None:
    url, arn, _ = make_queue(sqs)
    sqs.send_message(
        QueueUrl=url,
        MessageBody='{"hello": 1}',
        MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "lead.scored"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
        },
    )
    recorder = Recorder()
    running = poller(sqs, url, arn, recorder, batch_size=10)
    wait_for(lambda: running.poll_once() > 0 or bool(recorder.events), timeout=5)
    (record,) = recorder.events[0]["Records"]
    assert record["body"] == '{"hello": 1}'
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == arn
    assert record["awsRegion"] == "us-east-1"
    assert all(record[key] for key in ("messageId", "receiptHandle", "md5OfBody"))
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "ApproximateFirstReceiveTimestamp"} <= set(record["attributes"])
    assert record["messageAttributes"]["kind"]["stringValue"] == "lead.scored"
    assert record["messageAttributes"]["kind"]["dataType"] == "String"
    assert record["messageAttributes"]["blob"]["binaryValue"] == "AAE="
    # Powertools' data class reads it
    from aws_lambda_powertools.utilities.data_classes import SQSEvent

    parsed = next(iter(SQSEvent(recorder.events[0]).records))
    assert parsed.json_body == {"hello": 1}
    assert count(sqs, url) == 0


def test_partial_batch_failure_deletes_only_the_successes(sqs: Any) -> None:
    url, arn, _ = make_queue(sqs)
    for body in ("ok-1", "fail-1", "ok-2", "fail-2"):
        sqs.send_message(QueueUrl=url, MessageBody=body)

    def respond(event: dict[str, Any]) -> Any:
        failures = [{"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"].startswith("fail")]
        return {"batchItemFailures": failures}

    recorder = Recorder(respond)
    running = poller(sqs, url, arn, recorder, batch_size=10, report_batch_item_failures=True, retry_delay=1).start()
    try:
        # the failures come back after the 1 s local retry delay (not the queue's 300 s visibility timeout)
        wait_for(lambda: recorder.bodies().count("fail-1") >= 2 and recorder.bodies().count("fail-2") >= 2)
    finally:
        running.stop()
    bodies = recorder.bodies()
    assert bodies.count("ok-1") == 1
    assert bodies.count("ok-2") == 1
    assert count(sqs, url) == 2  # only the failures are left


def test_without_report_batch_item_failures_the_response_is_ignored(sqs: Any) -> None:
    ids = ["a", "b"]
    assert failed_message_ids({"batchItemFailures": [{"itemIdentifier": "a"}]}, ids, False) == set()
    assert failed_message_ids({"batchItemFailures": [{"itemIdentifier": "a"}]}, ids, True) == {"a"}
    assert failed_message_ids({"batchItemFailures": [{"itemIdentifier": ""}]}, ids, True) == {"a", "b"}
    assert failed_message_ids({"batchItemFailures": [{"itemIdentifier": "zz"}]}, ids, True) == {"a", "b"}
    assert failed_message_ids({"batchItemFailures": []}, ids, True) == set()
    assert failed_message_ids(None, ids, True) == set()


def test_a_message_that_always_fails_ends_in_the_dead_letter_queue(sqs: Any, capfd: pytest.CaptureFixture[str]) -> None:
    url, arn, dlq_url = make_queue(sqs, max_receive_count=2)
    assert dlq_url is not None
    sqs.send_message(QueueUrl=url, MessageBody="poison")

    def respond(event: dict[str, Any]) -> Any:
        raise RuntimeError("always fails")

    recorder = Recorder(respond)
    started = time.monotonic()
    running = poller(sqs, url, arn, recorder, batch_size=1, report_batch_item_failures=True, retry_delay=1).start()
    try:
        wait_for(lambda: count(sqs, dlq_url) == 1, timeout=15)
    finally:
        running.stop()
    assert time.monotonic() - started < 10  # seconds, not maxReceiveCount x VisibilityTimeout
    assert recorder.bodies() == ["poison", "poison"]  # received maxReceiveCount times, then redriven
    assert count(sqs, url) == 0
    assert "RuntimeError: always fails" in capfd.readouterr().err


def test_stop_is_quick(sqs: Any) -> None:
    urls = [make_queue(sqs)[:2] for _ in range(3)]
    pollers = QueuePollers(poller(sqs, url, arn, Recorder()) for url, arn in urls).start()
    time.sleep(0.3)  # they are in their long polls
    started = time.monotonic()
    pollers.stop()
    assert time.monotonic() - started < 2.5
    assert not any(item.running for item in pollers.pollers)
