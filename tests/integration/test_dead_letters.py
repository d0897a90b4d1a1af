"""A poison message on every consumed queue: its consumer fails it on each receive, SQS moves it to the queue's
dead-letter queue after exactly the template's maxReceiveCount receives (the local pollers compress the visibility
timeout, not the count), and the consumer alerts `queue.dead_lettered` on the last one. Neither retried forever
nor dropped. The queues come from template.yaml: every queue a function consumes, with its redrive policy."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from infra.local_cloud import LocalCloud
from infra.local_cloud.pollers import QueuePoller
from infra.template import load_template
from tests.integration.conftest import TEMPLATE, receive_until

pytestmark = pytest.mark.integration

DEAD_LETTER_TIMEOUT_SECONDS = 60.0
TEMPLATE_DATA = load_template(TEMPLATE)


def _consumed_queues() -> dict[str, str]:
    """Queue logical id -> the function consuming it, for every SQS event source in the template."""
    consumed: dict[str, str] = {}
    for logical_id, resource in TEMPLATE_DATA["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for event in (resource["Properties"].get("Events") or {}).values():
            if event["Type"] == "SQS":
                consumed[event["Properties"]["Queue"]["Fn::GetAtt"][0]] = logical_id
    return consumed


CONSUMED = _consumed_queues()


@dataclass
class Poisoned:
    queue: str  # logical id
    url: str
    dead_letter_url: str
    max_receives: int
    message_id: str
    body: str
    poller: QueuePoller
    invocations_before: int


@pytest.fixture(scope="module")
def cloud() -> Iterator[LocalCloud]:
    with LocalCloud(TEMPLATE, port=0, retry_delay=1, demo=False) as cloud:
        yield cloud


@pytest.fixture(scope="module")
def alerts(cloud: LocalCloud) -> str:
    """An SQS queue subscribed to the alerts topic for queue.dead_lettered, as an operator's subscriber would."""
    sqs, sns = cloud.client("sqs"), cloud.client("sns")
    url = sqs.create_queue(QueueName=f"it-dead-lettered-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=cloud.resources.ref("AlertsTopic"), Protocol="sqs", Endpoint=arn,
                  Attributes={"RawMessageDelivery": "true",
                              "FilterPolicy": json.dumps({"alert_type": ["queue.dead_lettered"]})})  # fmt: skip
    return url


@pytest.fixture(scope="module")
def poisoned(cloud: LocalCloud, alerts: str) -> dict[str, Poisoned]:
    """One malformed message on every consumed queue at once (they are dead-lettered in parallel)."""
    sqs = cloud.client("sqs")
    assert cloud.pollers is not None
    pollers = {poller.queue_url: poller for poller in cloud.pollers.pollers}
    sent: dict[str, Poisoned] = {}
    for queue in CONSUMED:
        redrive = cloud.resources.resolve(TEMPLATE_DATA["Resources"][queue]["Properties"]["RedrivePolicy"])
        url = cloud.resources.ref(queue)
        assert url in pollers, f"{CONSUMED[queue]} does not poll {queue}"
        body = '{"poison": "' + uuid.uuid4().hex  # not JSON: no consumer can process it
        poller = pollers[url]
        before = poller.invocations
        message_id = sqs.send_message(QueueUrl=url, MessageBody=body)["MessageId"]
        sent[queue] = Poisoned(
            queue=queue,
            url=url,
            dead_letter_url=_queue_url(cloud, str(redrive["deadLetterTargetArn"])),
            max_receives=int(redrive["maxReceiveCount"]),
            message_id=message_id,
            body=body,
            poller=poller,
            invocations_before=before,
        )
    return sent


def _queue_url(cloud: LocalCloud, arn: str) -> str:
    for item in cloud.resources.of_type("AWS::SQS::Queue").values():
        if item.attributes.get("Arn") == arn:
            return str(item.physical_id)
    raise AssertionError(f"no queue with ARN {arn}")


_ALERTS: dict[str, list[dict[str, Any]]] = {}  # message id -> its queue.dead_lettered alerts, across the tests


def _alerts_for(sqs: Any, url: str, message_id: str, timeout: float = 10.0) -> list[dict[str, Any]]:
    """Every queue.dead_lettered alert naming `message_id`: the observer queue drained until one is there."""
    deadline = time.monotonic() + timeout
    while True:
        response = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in response.get("Messages", []):
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            alert = json.loads(message["Body"])
            _ALERTS.setdefault(str(alert["details"].get("message_id")), []).append(alert)
        if (message_id in _ALERTS and not response.get("Messages")) or time.monotonic() >= deadline:
            return _ALERTS.get(message_id, [])


def test_the_template_gives_every_consumed_queue_a_dead_letter_queue() -> None:
    assert set(CONSUMED) == {"BulkQueue", "EventsQueue", "NotifyQueue", "JobsQueue", "TrainingQueue", "MonitorQueue"}


@pytest.mark.parametrize("queue", sorted(CONSUMED))
def test_a_poison_message_is_dead_lettered_after_the_configured_receives_and_alerted(
    queue: str, cloud: LocalCloud, poisoned: dict[str, Poisoned], alerts: str
) -> None:
    sqs, sent = cloud.client("sqs"), poisoned[queue]

    letter, _ = receive_until(
        sqs, sent.dead_letter_url, lambda m: m["MessageId"] == sent.message_id, timeout=DEAD_LETTER_TIMEOUT_SECONDS
    )

    assert letter["Body"] == sent.body  # not dropped: the message itself, for an operator to inspect or redrive
    # handed to the function exactly maxReceiveCount times (nothing else is sent to these queues in this module)
    assert sent.poller.invocations - sent.invocations_before == sent.max_receives
    names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
    counts = sqs.get_queue_attributes(QueueUrl=sent.url, AttributeNames=names)["Attributes"]
    assert counts == dict.fromkeys(names, "0")  # not retried forever: gone from its queue
    (alert,) = _alerts_for(sqs, alerts, sent.message_id)  # one alert, on the last receive only
    assert alert["type"] == "queue.dead_lettered"
    assert alert["severity"] == "critical"
    queue_name = sent.url.rsplit("/", 1)[1]
    assert alert["details"]["queue"] == queue_name
    assert queue_name in alert["summary"]
    assert alert["details"]["receive_count"] == alert["details"]["max_receive_count"] == sent.max_receives
    assert "JSONDecodeError" in alert["details"]["error"] or "not JSON" in alert["details"]["error"]
    assert sent.body not in json.dumps(alert)  # the error says what failed, not what the message held
