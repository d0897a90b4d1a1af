"""Lambda's DynamoDB Streams event-source mapping, locally: one thread per (function, stream) that reads the
stream in order and invokes the function with Lambda's DynamoDB event.

    pollers = StreamPollers([StreamPoller(...), ...]).start()
    pollers.stop()

As Lambda does:
- from `StartingPosition` (TRIM_HORIZON: the oldest record; LATEST: what is written after the start), in order,
  up to `BatchSize` records per invocation, polling four times a second while the stream is quiet;
- `FilterCriteria`: a record no filter matches is skipped (never handed to the function); equality lists and
  nested objects are supported, other filter operators are refused at start rather than ignored;
- the function raises (or returns an invalid partial-batch response): the whole batch again, after a retry delay;
  with `ReportBatchItemFailures`, a response naming records retries from the lowest-numbered of them (the records
  before it are done); an empty list, or no `batchItemFailures`, is success;
- `MaximumRetryAttempts` (-1: until it succeeds) then the batch is given up: `DestinationConfig.OnFailure` (an SQS
  queue) receives Lambda's record of the batch (shard, first and last sequence number), and reading goes on.
The retry delay is compressed (seconds, not Lambda's backoff) and `MaximumRecordAgeInSeconds` is not applied:
local records never get that old.

moto keeps a stream per table object and TransactWriteItems replaces the table object when a transaction fails,
so each poll asks for a fresh shard iterator after the last record read instead of following NextShardIterator.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import traceback
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from .server import REGION, LocalCloudError

POLL_INTERVAL_SECONDS = 0.25  # Lambda polls each shard four times a second
DEFAULT_RETRY_DELAY_SECONDS = 1.0
READ_LIMIT = 1000  # GetRecords' maximum


def _check_pattern(pattern: Any, where: str) -> None:
    if not isinstance(pattern, dict):
        raise LocalCloudError(f"{where}: a filter pattern is a JSON object, got {pattern!r}")
    for key, value in pattern.items():
        if isinstance(value, dict):
            _check_pattern(value, f"{where}.{key}")
        elif isinstance(value, list):
            if not value or not all(isinstance(v, str | int | float | bool) or v is None for v in value):
                raise LocalCloudError(
                    f"{where}.{key}: the local cloud supports equality lists only (no prefix, anything-but, "
                    f"numeric or exists rules): {value!r}"
                )
        else:
            raise LocalCloudError(f"{where}.{key}: a filter value is a list or an object, got {value!r}")


def parse_filters(criteria: Any) -> list[dict[str, Any]]:
    """The patterns of `FilterCriteria` ({"Filters": [{"Pattern": "<json>"}]}), checked; [] means no filtering."""
    if not criteria:
        return []
    patterns: list[dict[str, Any]] = []
    for index, entry in enumerate((criteria or {}).get("Filters") or []):
        raw = entry.get("Pattern") if isinstance(entry, dict) else None
        try:
            pattern = json.loads(raw) if isinstance(raw, str) else raw
        except json.JSONDecodeError as error:
            raise LocalCloudError(f"FilterCriteria.Filters[{index}].Pattern is not JSON: {error}") from None
        _check_pattern(pattern, f"FilterCriteria.Filters[{index}]")
        assert isinstance(pattern, dict)  # _check_pattern refuses anything else
        patterns.append(pattern)
    return patterns


def _matches(pattern: Mapping[str, Any], value: Any) -> bool:
    if not isinstance(value, dict):
        return False
    for key, wanted in pattern.items():
        if key not in value:
            return False
        if isinstance(wanted, dict):
            if not _matches(wanted, value[key]):
                return False
        elif value[key] not in wanted:
            return False
    return True


def passes(filters: Sequence[Mapping[str, Any]], record: Mapping[str, Any]) -> bool:
    """Lambda's rule: a record is handed on when any filter matches it (or there are none)."""
    return not filters or any(_matches(pattern, record) for pattern in filters)


def lambda_record(record: Mapping[str, Any], stream_arn: str, region: str = REGION) -> dict[str, Any]:
    """A record as GetRecords returns it (through boto3) -> as Lambda hands it to the function."""
    dynamodb = dict(record.get("dynamodb") or {})
    created = dynamodb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        dynamodb["ApproximateCreationDateTime"] = int(created.timestamp())
    return {
        "eventID": record.get("eventID"),
        "eventName": record.get("eventName"),
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": record.get("awsRegion") or region,
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    }


def retry_index(result: Any, sequence_numbers: Sequence[str], report_batch_item_failures: bool) -> int | None:
    """Where the batch must be retried from (None: it succeeded), given the function's response."""
    if not report_batch_item_failures or result is None:
        return None
    if not isinstance(result, dict):
        return 0
    failures = result.get("batchItemFailures")
    if failures is None or failures == []:
        return None
    if not isinstance(failures, list):
        return 0
    positions = []
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not identifier or str(identifier) not in sequence_numbers:
            return 0  # Lambda treats a null, empty or unknown identifier as a failure of the whole batch
        positions.append(sequence_numbers.index(str(identifier)))
    return min(positions)


class StreamPoller:
    """Reads one table's stream for one function until stopped."""

    def __init__(
        self,
        function_id: str,
        stream_arn: str,
        invoke: Any,
        streams: Any,
        *,
        batch_size: int = 100,
        starting_position: str = "TRIM_HORIZON",
        filters: Sequence[Mapping[str, Any]] = (),
        report_batch_item_failures: bool = False,
        maximum_retry_attempts: int = -1,
        on_failure: tuple[Any, str] | None = None,  # (an SQS client, the queue URL)
        retry_delay: float = DEFAULT_RETRY_DELAY_SECONDS,
        region: str = REGION,
    ) -> None:
        self.function_id = function_id
        self.stream_arn = stream_arn
        self.invoke = invoke
        self.streams = streams
        self.batch_size = max(1, min(int(batch_size), 10_000))
        self.starting_position = starting_position
        self.filters = list(filters)
        self.report_batch_item_failures = report_batch_item_failures
        self.maximum_retry_attempts = maximum_retry_attempts
        self.on_failure = on_failure
        self.retry_delay = retry_delay
        self.region = region
        self.invocations = 0
        self.given_up = 0  # batches that used their retries (sent to OnFailure)
        self._pending: list[dict[str, Any]] = []
        self._shard_id: str | None = None
        self._last_read: str | None = None  # the sequence number of the last record read from the stream
        self._attempts = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> StreamPoller:
        if self._thread is None:
            self._begin()
            self._stop.clear()
            name = f"local-cloud-stream-{self.function_id}"
            self._thread = threading.Thread(target=self._run, name=name, daemon=True)
            self._thread.start()
        return self

    def _shard(self) -> str:
        if self._shard_id is None:
            described = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]
            shards = described.get("Shards") or []
            if not shards:
                raise LocalCloudError(f"{self.function_id}: stream {self.stream_arn} has no shard")
            self._shard_id = str(shards[0]["ShardId"])
        return self._shard_id

    def _begin(self) -> None:
        """Fix the starting point now (LATEST means what is written after the mapping starts)."""
        if self.starting_position == "LATEST":
            while self._read():  # skip what is there: _last_read ends at the newest record
                pass

    def request_stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        thread, self._thread = self._thread, None
        if thread is not None:
            thread.join(timeout)

    def stop(self, timeout: float = 3.0) -> None:
        self.request_stop()
        self.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def behind(self) -> int:
        """Records read and not yet handled (for tests waiting on the publisher)."""
        return len(self._pending)

    # ---------------------------------------------------------------- reading
    def _iterator(self, kind: str, sequence_number: str | None = None) -> str:
        request: dict[str, Any] = {"StreamArn": self.stream_arn, "ShardId": self._shard(), "ShardIteratorType": kind}
        if sequence_number is not None:
            request["SequenceNumber"] = sequence_number
        return str(self.streams.get_shard_iterator(**request)["ShardIterator"])

    def _read(self) -> list[dict[str, Any]]:
        if self._last_read is None:
            iterator = self._iterator("TRIM_HORIZON")
        else:
            iterator = self._iterator("AFTER_SEQUENCE_NUMBER", self._last_read)
        records: list[dict[str, Any]] = (
            self.streams.get_records(ShardIterator=iterator, Limit=READ_LIMIT).get("Records") or []
        )
        if records:
            self._last_read = records[-1]["dynamodb"]["SequenceNumber"]
        return records

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if not self.poll_once():
                    self._stop.wait(POLL_INTERVAL_SECONDS)
            except Exception:
                if self._stop.is_set():
                    break
                print(f"local cloud: reading {self.stream_arn} for {self.function_id} failed:", file=sys.stderr)
                traceback.print_exc(file=sys.stderr)
                self._stop.wait(1.0)

    def poll_once(self) -> bool:
        """Read what is new, then hand at most one batch to the function; False when there was nothing to do."""
        if not self._pending:
            converted = (lambda_record(r, self.stream_arn, self.region) for r in self._read())
            self._pending = [record for record in converted if passes(self.filters, record)]
        if not self._pending:
            return False
        self._invoke(self._pending[: self.batch_size])
        return True

    def _invoke(self, batch: list[dict[str, Any]]) -> None:
        sequence_numbers = [str(record["dynamodb"]["SequenceNumber"]) for record in batch]
        self.invocations += 1
        try:
            result = self.invoke(self.function_id, {"Records": batch})
            failed_at = retry_index(result, sequence_numbers, self.report_batch_item_failures)
        except Exception:
            print(f"local cloud: {self.function_id} failed on {len(batch)} stream records:", file=sys.stderr)
            traceback.print_exc(file=sys.stderr)
            failed_at = 0
        if failed_at is None:
            self._done(len(batch))
            return
        self._done(failed_at)  # the records before the first failure are done
        self._attempts += 1
        if 0 <= self.maximum_retry_attempts < self._attempts:
            self._give_up(batch[failed_at:])
            return
        self._stop.wait(self.retry_delay)

    def _done(self, count: int) -> None:
        if count:
            self._pending = self._pending[count:]
            self._attempts = 0

    def _give_up(self, batch: list[dict[str, Any]]) -> None:
        self.given_up += 1
        self._pending = self._pending[len(batch) :]
        self._attempts = 0
        if self.on_failure is None:
            return
        sqs, queue_url = self.on_failure
        first, last = batch[0]["dynamodb"], batch[-1]["dynamodb"]
        message = {  # the shape of Lambda's invocation record for a stream batch it gave up on
            "requestContext": {"condition": "RetryAttemptsExhausted", "functionArn": self.function_id},
            "responseContext": {"statusCode": 200, "functionError": "Unhandled"},
            "version": "1.0",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "DDBStreamBatchInfo": {
                "shardId": self._shard_id,
                "startSequenceNumber": first["SequenceNumber"],
                "endSequenceNumber": last["SequenceNumber"],
                "batchSize": len(batch),
                "streamArn": self.stream_arn,
            },
        }
        sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(message))


class StreamPollers:
    def __init__(self, pollers: Iterable[StreamPoller]) -> None:
        self.pollers = list(pollers)

    def start(self) -> StreamPollers:
        for poller in self.pollers:
            poller.start()
        return self

    def stop(self, timeout: float = 3.0) -> None:
        for poller in self.pollers:
            poller.request_stop()
        deadline = time.monotonic() + timeout
        for poller in self.pollers:
            poller.join(max(0.0, deadline - time.monotonic()))
