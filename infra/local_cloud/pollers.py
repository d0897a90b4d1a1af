"""Lambda's SQS event-source mapping, locally: one thread per (function, queue) that polls and invokes.

    pollers = QueuePollers([QueuePoller(...), ...]).start()
    pollers.stop()                                   # returns within ~2 s (long polls are 1 s)

Each poller long-polls its queue (WaitTimeSeconds 1, up to BatchSize messages, at most 10), hands the batch to
the handler as Lambda's SQS event, deletes the messages that succeeded and makes the failed ones visible again.
With `ReportBatchItemFailures` only the `batchItemFailures` it returns fail (an invalid response fails the whole batch,
as Lambda does); without it, or when the handler raises, the whole batch fails.

Time is compressed on purpose: a failed message becomes visible again after `retry_delay` seconds (default 2), not
after the queue's VisibilityTimeout (5400 s for the bulk queue in template.yaml). Receive counts and the queue's
RedrivePolicy still apply (moto moves a message to the dead-letter queue once it has been received maxReceiveCount
times), so a message that always fails reaches the DLQ in about maxReceiveCount x retry_delay seconds locally,
where AWS would take maxReceiveCount x VisibilityTimeout.
"""

from __future__ import annotations

import base64
import math
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from typing import Any

from .server import REGION

DEFAULT_RETRY_DELAY_SECONDS = 2.0
WAIT_TIME_SECONDS = 1  # long-poll length: also the bound on how long stop() waits for a poll to return
SQS_MAX_BATCH = 10

Invoker = Callable[[str, Any], Any]


def _message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    """A message attribute in Lambda's form (lower camel case, binary values base64 encoded)."""

    def b64(data: Any) -> str:
        return base64.b64encode(data if isinstance(data, bytes) else str(data).encode()).decode("ascii")

    converted: dict[str, Any] = {
        "stringListValues": list(value.get("StringListValues", [])),
        "binaryListValues": [b64(item) for item in value.get("BinaryListValues", [])],
        "dataType": value.get("DataType", "String"),
    }
    if "StringValue" in value:
        converted["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        converted["binaryValue"] = b64(value["BinaryValue"])
    return converted


def sqs_event(messages: Iterable[dict[str, Any]], queue_arn: str, region: str = REGION) -> dict[str, Any]:
    """Lambda's SQS event for messages as `ReceiveMessage` returns them (with All attributes)."""
    records = []
    for message in messages:
        record: dict[str, Any] = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message.get("Body", ""),
            "attributes": dict(message.get("Attributes", {})),
            "messageAttributes": {
                name: _message_attribute(value) for name, value in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn,
            "awsRegion": region,
        }
        if "MD5OfMessageAttributes" in message:
            record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
        records.append(record)
    return {"Records": records}


def failed_message_ids(result: Any, message_ids: list[str], report_batch_item_failures: bool) -> set[str]:
    """Which messages of a batch failed, given the handler's result (as Lambda's event-source mapping decides)."""
    if not report_batch_item_failures or result is None:
        return set()
    if not isinstance(result, dict):
        return set(message_ids)  # not a valid partial-batch response: the whole batch is retried
    failures = result.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        return set(message_ids)
    failed: set[str] = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not identifier or identifier not in message_ids:
            return set(message_ids)  # Lambda treats a null, empty or unknown identifier as a failure of all
        failed.add(str(identifier))
    return failed


class QueuePoller:
    """Polls one queue for one function until stopped."""

    def __init__(
        self,
        function_id: str,
        queue_url: str,
        queue_arn: str,
        invoke: Invoker,
        sqs: Any,
        *,
        batch_size: int = 10,
        report_batch_item_failures: bool = False,
        retry_delay: float = DEFAULT_RETRY_DELAY_SECONDS,
        region: str = REGION,
    ) -> None:
        self.function_id = function_id
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.invoke = invoke
        self.sqs = sqs
        self.batch_size = max(1, min(int(batch_size), SQS_MAX_BATCH))
        self.report_batch_item_failures = report_batch_item_failures
        self.retry_delay = retry_delay
        self.region = region
        self.invocations = 0  # batches handed to the function (for tests and the status line)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> QueuePoller:
        if self._thread is None:
            self._stop.clear()
            name = f"local-cloud-poller-{self.function_id}"
            self._thread = threading.Thread(target=self._run, name=name, daemon=True)
            self._thread.start()
        return self

    def request_stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)

    def stop(self, timeout: float = WAIT_TIME_SECONDS + 1.5) -> None:
        self.request_stop()
        self.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception:
                if self._stop.is_set():
                    break
                print(f"local cloud: polling {self.queue_url} for {self.function_id} failed:", file=sys.stderr)
                traceback.print_exc(file=sys.stderr)
                self._stop.wait(1.0)

    def poll_once(self) -> int:
        """One receive (long poll up to 1 s) and, if it got messages, one invocation. Returns the batch size."""
        response = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=WAIT_TIME_SECONDS,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages: list[dict[str, Any]] = response.get("Messages", [])
        if not messages:
            return 0
        ids = [message["MessageId"] for message in messages]
        self.invocations += 1
        try:
            result = self.invoke(self.function_id, sqs_event(messages, self.queue_arn, self.region))
            failed = failed_message_ids(result, ids, self.report_batch_item_failures)
        except Exception:
            print(
                f"local cloud: {self.function_id} failed on a batch of {len(messages)} from {self.queue_url}:",
                file=sys.stderr,
            )
            traceback.print_exc(file=sys.stderr)
            failed = set(ids)
        succeeded = [message for message in messages if message["MessageId"] not in failed]
        retried = [message for message in messages if message["MessageId"] in failed]
        for start in range(0, len(succeeded), SQS_MAX_BATCH):
            chunk = succeeded[start : start + SQS_MAX_BATCH]
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(index), "ReceiptHandle": m["ReceiptHandle"]} for index, m in enumerate(chunk)],
            )
        for start in range(0, len(retried), SQS_MAX_BATCH):
            chunk = retried[start : start + SQS_MAX_BATCH]
            self.sqs.change_message_visibility_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": self._delay()}
                    for index, m in enumerate(chunk)
                ],
            )
        return len(messages)

    def _delay(self) -> int:
        return max(0, math.ceil(self.retry_delay))  # SQS takes whole seconds


class QueuePollers:
    """All pollers together: start them, stop them all within ~2 s."""

    def __init__(self, pollers: Iterable[QueuePoller]) -> None:
        self.pollers = list(pollers)

    def start(self) -> QueuePollers:
        for poller in self.pollers:
            poller.start()
        return self

    def stop(self, timeout: float = WAIT_TIME_SECONDS + 1.5) -> None:
        for poller in self.pollers:
            poller.request_stop()  # all at once: they finish their current long poll in parallel
        deadline = time.monotonic() + timeout
        for poller in self.pollers:
            poller.join(max(0.0, deadline - time.monotonic()))
